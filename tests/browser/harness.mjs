// Starts the built `sluice` binary (mock provider and gateway) on ephemeral
// ports, like tests/compat/harness.py, and headless Chromium through
// playwright-core (the system's /usr/bin/chromium; nothing is downloaded).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.SLUICE_BIN || join(ROOT, "target/debug/sluice");
export const SCREENSHOTS = process.env.SLUICE_SCREENSHOTS || join(ROOT, "target/ui-screenshots");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/// The provider key in the test config: must never appear in a page.
export const PROVIDER_KEY = "sk-provider-browser-canary-0123456789";

/** Runs `sluice <args>` until it prints its `listening on` line. */
function start(args, env = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.endsWith("_API_KEY")));
  const p = spawn(BIN, args, { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("sluice did not start:\n" + lines.join("\n"))), 30000);
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const m = line.match(/listening on (http:\/\/\S+)/);
        if (m) {
          clearTimeout(timer);
          const admin = lines.map((l) => l.match(/Admin API on (http:\/\/\S+)/)).find(Boolean);
          ok({ proc: p, url: m[1], admin: admin ? admin[1] : null, lines });
        }
      }
    });
    p.stderr.on("data", (d) => lines.push(d.toString()));
    p.on("exit", (code) => fail(new Error(`sluice exited ${code}:\n` + lines.join("\n"))));
  });
}

/** The mock provider, the gateway (config below) and its admin key. */
export async function startStack() {
  const mock = await start(["mock", "--listen", "127.0.0.1:0", "--no-record"]);
  const dir = mkdtempSync(join(tmpdir(), "sluice-ui-"));
  const config = join(dir, "sluice.yaml");
  writeFileSync(config, `
providers:
  a:
    type: openai
    base_url: ${mock.url}/v1
    api_key: env:BROWSER_PROVIDER_KEY
  b:
    type: openai
    base_url: ${mock.url}/v1
    api_key: env:BROWSER_PROVIDER_KEY
models:
  - name: alpha
    provider: a
    model: gpt-4o-mini
  - name: beta
    provider: b
    model: gpt-4o
  - name: canary
    strategy: weighted
    targets:
      - { provider: a, model: mock-stable, weight: 1 }
      - { provider: b, model: mock-canary, weight: 0 }
ledger:
  payloads: { routes: [default], max_size: 4KiB }
`);
  const data = join(dir, "data");
  const gw = await start(
    ["serve", "--config", config, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", data],
    { BROWSER_PROVIDER_KEY: PROVIDER_KEY },
  );
  const adminKey = readFileSync(join(data, "admin.key"), "utf8").trim();
  return {
    mock, gw, adminKey, url: gw.url, admin: gw.admin,
    stop() {
      for (const p of [gw.proc, mock.proc]) if (p.exitCode === null) p.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium with a fresh profile. */
export async function browser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const close = async () => { await ctx.close(); rmSync(profile, { recursive: true, force: true }); };
  return { ctx, close };
}

/** Saves a full-page PNG of `page` as `<name>.png`. */
export async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A chat completion through the gateway (a workload client, not the SDK test). */
export async function chat(url, model, content, key, stream = false) {
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const body = { model, messages: [{ role: "user", content }] };
  if (stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
  const r = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify(body) });
  await r.arrayBuffer();
  return r;
}

/** GETs an admin API path as JSON. */
export async function adminGet(stack, path) {
  const r = await fetch(`${stack.admin}${path}`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

/** Polls `f` until it returns a truthy value. */
export async function eventually(f, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await f();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("timed out; last value " + JSON.stringify(last));
}

/** The Python with the official `openai` SDK (the repo's .venv). */
export function python() {
  for (const p of [process.env.SLUICE_PYTHON, join(ROOT, ".venv/bin/python"), "/work/main/.venv/bin/python"]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error("no Python with the openai SDK: run scripts/test once (it creates .venv)");
}

/** One chat call with the official OpenAI Python SDK: `{ok, status, text}`. */
export function openaiSdk(url, key, model) {
  const code = `
import json, sys, openai
c = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=0)
try:
    r = c.chat.completions.create(model=sys.argv[3], messages=[{"role": "user", "content": "hello from the SDK"}])
    print(json.dumps({"ok": True, "status": 200, "text": r.choices[0].message.content}))
except openai.APIStatusError as e:
    print(json.dumps({"ok": False, "status": e.status_code, "text": str(e)}))
`;
  const out = execFileSync(python(), ["-c", code, url, key, model], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}
