// Browser tests of the dashboard (/ui): headless Chromium against the built
// binary and the mock provider. Screenshots go to target/ui-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startStack, browser, shot, chat, adminGet, eventually, openaiSdk, PROVIDER_KEY,
} from "./harness.mjs";

let stack, chromium, page;
const WORKLOAD = [["alpha", 3], ["beta", 2]];
const TOTAL = WORKLOAD.reduce((n, [, k]) => n + k, 0);

before(async () => {
  stack = await startStack();
  // The scripted workload (the gateway is open: no key exists yet).
  for (const [model, n] of WORKLOAD) {
    for (let i = 0; i < n; i++) {
      // The first request of each model is streamed (TTFT).
      const r = await chat(stack.url, model, `workload ${model} ${i} please answer`, undefined, i === 0);
      assert.equal(r.status, 200);
    }
  }
  await eventually(async () => (await adminGet(stack, "/v1/analytics/summary")).totals.requests === TOTAL);
  chromium = await browser();
  page = await chromium.ctx.newPage();
  page.on("dialog", (d) => d.accept());
});

after(async () => {
  if (chromium) await chromium.close();
  if (stack) stack.stop();
});

/** Asserts no page ever shows the provider key. */
async function noSecrets() {
  const html = await page.content();
  assert.ok(!html.includes(PROVIDER_KEY), `provider key in ${page.url()}`);
  assert.ok(!html.includes(stack.adminKey), `admin key in ${page.url()}`);
}

test("without the admin key the dashboard sends you to the login form", async () => {
  const r = await fetch(`${stack.admin}/ui`, { redirect: "manual" });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/ui/login");
  const data = await fetch(`${stack.admin}/ui/data/series`);
  assert.equal(data.status, 401);
  await page.goto(`${stack.admin}/ui`);
  assert.match(page.url(), /\/ui\/login$/);
  await page.fill("input[name=key]", "not-the-key");
  await page.click("button[type=submit]");
  await page.waitForSelector("#login-error");
  await shot(page, "login");
  await page.fill("input[name=key]", stack.adminKey);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/ui$/);
  const cookies = await chromium.ctx.cookies();
  const session = cookies.find((c) => c.name === "sluice_ui");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict");
  assert.ok(!session.value.includes(stack.adminKey));
});

test("the overview shows the ledger's totals for the scripted workload", async () => {
  await page.goto(`${stack.admin}/ui?range=1h`);
  const api = (await adminGet(stack, "/v1/analytics/summary")).totals;
  const text = async (id) => (await page.textContent(id)).trim();
  assert.equal(await text("#total-requests"), String(TOTAL));
  assert.equal(await text("#total-requests"), String(api.requests));
  assert.equal(await text("#total-prompt-tokens"), String(api.prompt_tokens));
  assert.equal(await text("#total-completion-tokens"), String(api.completion_tokens));
  assert.ok(api.prompt_tokens > 0 && api.completion_tokens > 0 && api.cost_usd > 0);
  assert.notEqual(await text("#total-ttft-p50"), "—");
  assert.equal(await text("#total-cost"), `$${api.cost_usd.toFixed(6)}`);
  assert.equal(await text("#total-error-rate"), "0.0%");
  const tops = await page.$$eval("#top-models tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual([...tops].sort(), ["alpha", "beta"]);
  await page.waitForSelector(".charts[data-drawn=true]");
  assert.equal(await page.locator(".chart canvas").count(), 8);
  await noSecrets();
  await shot(page, "overview");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.waitForSelector(".charts[data-drawn=true]");
  await shot(page, "overview-dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("the logs filter to one model and open a request's detail", async () => {
  await page.goto(`${stack.admin}/ui/logs`);
  assert.equal(await page.locator("#log-rows tr").count(), TOTAL);
  await page.fill("input[name=model]", "beta");
  await page.click("#log-filters button[type=submit]");
  await page.waitForURL(/model=beta/);
  const models = await page.$$eval("#log-rows tr", (rows) => rows.map((r) => r.dataset.model));
  assert.deepEqual(models, ["beta", "beta"]);
  await shot(page, "logs");
  await page.click("#log-rows tr:first-child a");
  await page.waitForSelector("#request-id");
  assert.equal((await page.textContent("#detail-model")).trim(), "beta");
  assert.match(await page.textContent("#detail-status"), /200 \(ok\)/);
  assert.equal(await page.locator("#detail-attempts tbody tr").count(), 1);
  assert.match(await page.textContent("#detail-attempts"), /gpt-4o/);
  assert.match(await page.textContent("#detail-payload"), /workload beta \d please answer/);
  assert.match(await page.textContent("#detail-usage"), /Cost\s*\$0\.\d{6}/);
  await noSecrets();
  await shot(page, "log-detail");
});

test("the live tail shows a new request as it arrives", async () => {
  await page.goto(`${stack.admin}/ui/logs`);
  await page.check("#live-tail");
  await page.waitForSelector("#live-tail[data-connected=true]");
  const r = await chat(stack.url, "alpha", "live tail please");
  const id = r.headers.get("x-sluice-request-id");
  await page.waitForSelector(`#log-rows tr[data-id="${id}"]`, { timeout: 5000 });
  await shot(page, "logs-live");
});

test("a canary weight changed in the UI changes the split of traffic", async () => {
  const split = async (n) => {
    const seen = {};
    for (let i = 0; i < n; i++) {
      const r = await chat(stack.url, "canary", `canary ${i}`);
      assert.equal(r.status, 200);
      const p = r.headers.get("x-sluice-provider");
      seen[p] = (seen[p] || 0) + 1;
    }
    return seen;
  };
  assert.deepEqual(await split(6), { a: 6 });
  await page.goto(`${stack.admin}/ui/routes`);
  const group = page.locator('article.group[data-model="canary"]');
  await group.locator("input[name=w0]").fill("0");
  await group.locator("input[name=w1]").fill("1");
  await group.locator("button[type=submit]").click();
  await page.waitForSelector("#last-reload.ok");
  assert.match(await page.textContent("#last-reload"), /applied/);
  assert.equal(await page.locator('article.group[data-model="canary"] input[name=w1]').inputValue(), "1");
  assert.deepEqual(await split(6), { b: 6 });
  const routes = await adminGet(stack, "/v1/routes");
  assert.deepEqual(routes.find((g) => g.name === "canary").targets.map((t) => t.weight), [0, 1]);
  // Back to an even split: both targets get traffic.
  await group.locator("input[name=w0]").fill("1");
  await group.locator("input[name=w1]").fill("1");
  await group.locator("button[type=submit]").click();
  await eventually(async () => (await adminGet(stack, "/v1/routes")).find((g) => g.name === "canary").targets[0].weight === 1);
  const even = await split(40);
  assert.ok(even.a > 0 && even.b > 0, JSON.stringify(even));
  await page.waitForSelector("#last-reload.ok");
  assert.match(await page.textContent("#config-dump"), /\[redacted\]/);
  await noSecrets();
  await shot(page, "routes");
});

test("the playground streams an answer", async () => {
  await page.goto(`${stack.admin}/ui/playground`);
  await page.selectOption("#pg-model", "alpha");
  await page.fill("#pg-prompt", "Stream a short answer, please.");
  await page.click("#pg-send");
  await page.waitForSelector("#pg-answer[data-done=true]", { timeout: 10000 });
  const chunks = Number(await page.getAttribute("#pg-answer", "data-chunks"));
  assert.ok(chunks > 1, `streamed in ${chunks} chunks`);
  assert.ok((await page.textContent("#pg-answer")).trim().length > 0);
  await shot(page, "playground");
  // Recorded like any request, once.
  const logs = await adminGet(stack, "/v1/logs?model=alpha&limit=1000");
  await eventually(async () => (await adminGet(stack, "/v1/logs?q=playground")).data.length === 1);
  assert.ok(logs.data.length >= 1);
});

test("a key created in the UI works with the OpenAI SDK; edit, rotate and revoke take effect", async () => {
  // Another active key keeps the gateway closed once ours is revoked (with
  // no active key at all, it is open again and ignores a presented key).
  const keeper = await fetch(`${stack.admin}/v1/keys`, {
    method: "POST", body: JSON.stringify({ name: "keeper" }),
    headers: { authorization: `Bearer ${stack.adminKey}`, "content-type": "application/json" },
  });
  assert.equal(keeper.status, 201);
  await page.goto(`${stack.admin}/ui/keys`);
  await page.fill("#create-key input[name=name]", "browser-test");
  await page.fill("#create-key input[name=budget_usd]", "5");
  await page.click("#create-key button[type=submit]");
  await page.waitForSelector("#new-key");
  const key = await page.inputValue("#new-key");
  const id = (await page.textContent("#new-key-id")).trim();
  assert.match(key, /^sk-sluice-/);
  await page.click("button.copy");
  await page.waitForSelector("button.copy:text('Copied')");
  await shot(page, "keys-created");
  const ok = openaiSdk(stack.url, key, "alpha");
  assert.equal(ok.ok, true, ok.text);
  assert.ok(ok.text.length > 0);
  // The gateway is closed now: no key, no answer.
  assert.equal(openaiSdk(stack.url, "sk-sluice-not-a-key", "alpha").status, 401);
  await page.goto(`${stack.admin}/ui/keys`);
  const row = page.locator(`tr[data-key-id="${id}"]`);
  assert.match(await row.textContent(), /\$5\.000000 monthly/);
  // Edit: only `beta` is allowed now.
  await row.locator("details.edit summary").click();
  await row.locator("details.edit input[name=allowed_models]").fill("beta");
  await row.locator("details.edit button[type=submit]").click();
  await page.waitForSelector(`tr[data-key-id="${id}"] td:text-is("beta")`);
  const forbidden = openaiSdk(stack.url, key, "alpha");
  assert.equal(forbidden.ok, false);
  assert.equal(forbidden.status, 403, forbidden.text);
  assert.equal(openaiSdk(stack.url, key, "beta").ok, true);
  // Rotate: a new value, shown once; the old one stops at once.
  await page.locator(`tr[data-key-id="${id}"] button:text-is("Rotate")`).click();
  await page.waitForSelector("#new-key");
  const rotated = await page.inputValue("#new-key");
  assert.notEqual(rotated, key);
  assert.equal(openaiSdk(stack.url, key, "beta").status, 401);
  assert.equal(openaiSdk(stack.url, rotated, "beta").ok, true);
  // Revoke.
  await page.locator(`tr[data-key-id="${id}"] button.revoke`).click();
  await page.waitForSelector(`tr[data-key-id="${id}"] .state-revoked`);
  const refused = openaiSdk(stack.url, rotated, "beta");
  assert.equal(refused.ok, false);
  assert.equal(refused.status, 401);
  assert.match(refused.text, /revoked/);
  await noSecrets();
  await shot(page, "keys");
});
