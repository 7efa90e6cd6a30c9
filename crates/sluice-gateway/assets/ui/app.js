// Sluice dashboard: charts (uPlot), the logs' live tail (SSE), the key copy
// button and the playground's streamed answer. Hand-written, no build step.
"use strict";

const COUNTS = ["requests", "tokens", "cost_usd"];
const fmt = (v) => (v == null ? "" : Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v)) : Number(v.toPrecision(3)).toString());

const PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#6d4c41", "#546e7a"];

function drawCharts() {
  const box = document.querySelector(".charts[data-series]");
  if (!box || typeof uPlot === "undefined") return;
  fetch(box.dataset.series, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => {
      // Axis colours follow the page (light or dark).
      const fg = getComputedStyle(document.body).color;
      const grid = { stroke: "rgba(128,128,128,0.2)", width: 1 };
      const axis = (extra) => Object.assign({ stroke: fg, grid, ticks: grid }, extra);
      box.querySelectorAll(".chart[data-metric]").forEach((el) => {
        const lines = data.metrics[el.dataset.metric] || [];
        const counts = COUNTS.includes(el.dataset.metric);
        const series = [{}].concat(
          data.groups.map((g, i) => ({
            label: g, stroke: PALETTE[i % PALETTE.length], width: 2,
            points: { show: !counts, size: 6, fill: PALETTE[i % PALETTE.length] },
            value: (u, v) => fmt(v),
          }))
        );
        el.innerHTML = "";
        const width = Math.max(el.clientWidth, 240);
        new uPlot({ width, height: 180, series, legend: { show: data.groups.length > 0 }, axes: [axis({}), axis({ size: 60, values: (u, vals) => vals.map(fmt) })] },
          [data.x].concat(lines), el);
      });
      box.dataset.drawn = "true";
    })
    .catch(() => { box.dataset.drawn = "error"; });
}

function liveTail() {
  const toggle = document.getElementById("live-tail");
  const rows = document.getElementById("log-rows");
  if (!toggle || !rows) return;
  let source = null;
  toggle.addEventListener("change", () => {
    if (source) { source.close(); source = null; }
    if (!toggle.checked) return;
    const form = new FormData(document.getElementById("log-filters"));
    const q = new URLSearchParams({ model: form.get("model") || "", provider: form.get("provider") || "" });
    source = new EventSource("/ui/logs/tail?" + q.toString());
    source.addEventListener("row", (e) => {
      rows.insertAdjacentHTML("afterbegin", e.data);
      const first = rows.firstElementChild;
      if (first) first.classList.add("fresh");
      const empty = document.getElementById("no-logs");
      if (empty) empty.remove();
    });
    source.addEventListener("open", () => { toggle.dataset.connected = "true"; });
  });
}

function copyButtons() {
  document.body.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-copy]");
    if (!btn) return;
    const input = document.querySelector(btn.dataset.copy);
    if (!input) return;
    input.select();
    const done = () => { btn.textContent = "Copied"; };
    if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, () => { document.execCommand("copy"); done(); });
    else { document.execCommand("copy"); done(); }
  });
}

function autosubmit() {
  document.querySelectorAll("form.autosubmit select").forEach((s) =>
    s.addEventListener("change", () => s.form.submit()));
}

async function playground() {
  const form = document.getElementById("playground");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("pg-answer");
    const status = document.getElementById("pg-status");
    const send = document.getElementById("pg-send");
    out.textContent = "";
    status.textContent = "streaming…";
    send.setAttribute("aria-busy", "true");
    const body = JSON.stringify({
      model: form.model.value, prompt: form.prompt.value, key: form.key.value,
    });
    try {
      const resp = await fetch("/ui/playground", {
        method: "POST", credentials: "same-origin",
        headers: { "content-type": "application/json" }, body,
      });
      if (!resp.ok || !resp.body) {
        const text = await resp.text();
        let msg = text;
        try { msg = JSON.parse(text).error.message; } catch (_) { /* not JSON */ }
        status.textContent = "error " + resp.status;
        out.textContent = msg;
        return;
      }
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = "", chunks = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            try {
              const j = JSON.parse(data);
              if (j.error) { status.textContent = "error"; out.textContent += "\n" + j.error.message; continue; }
              const delta = j.choices && j.choices[0] && j.choices[0].delta && j.choices[0].delta.content;
              if (delta) { out.textContent += delta; chunks += 1; out.dataset.chunks = String(chunks); }
            } catch (_) { /* keep-alive or partial */ }
          }
        }
      }
      status.textContent = "done (" + chunks + " chunks)";
      out.dataset.done = "true";
    } catch (err) {
      status.textContent = "error";
      out.textContent = String(err);
    } finally {
      send.removeAttribute("aria-busy");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  liveTail();
  copyButtons();
  autosubmit();
  playground();
});
