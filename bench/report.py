#!/usr/bin/env python3
"""Turns bench/run.sh's results (one JSON line per load-generator run) into
markdown tables: one column per system, the issue's targets with met / not
met, and the scaling runs. In smoke mode it checks Sluice against direct with
generous bounds and exits 1 on a regression.

    bench/report.py full|quick|smoke bench/results/results.jsonl
"""
import json
import os
import sys

MODE, PATH = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(PATH) if line.strip()]
by = {r["label"]: r for r in rows}
SYSTEMS = [s for s in ("direct", "floor", "nginx", "sluice", "sluice-full", "litellm") if f"{s} c1" in by]


def get(label, key):
    r = by.get(label)
    return None if r is None or r.get(key) is None else r[key]


def added(g, scen, key):
    a, d = get(f"{g} {scen}", key), get(f"direct {scen}", key)
    return None if a is None or d is None else a - d


def max_rate(g, p99_ms):
    ok = [r["rate"] for r in rows if r["label"].startswith(f"{g} rate ")
          and r["p99_ms"] < p99_ms and r["error_rate"] < 0.001]
    return max(ok) if ok else None


def fmt(v, spec=".3f"):
    return "n/a" if v is None else format(v, spec)


def mib(kib):
    return None if kib is None else kib / 1024


def table():
    lines = ["| | " + " | ".join(SYSTEMS) + " |", "|---" * (len(SYSTEMS) + 1) + "|"]

    def row(name, f, spec=".3f"):
        lines.append(f"| {name} | " + " | ".join(fmt(f(g), spec) for g in SYSTEMS) + " |")

    row("highest fixed rate with p99 < 1 ms (req/s)", lambda g: max_rate(g, 1), ".0f")
    row("highest fixed rate with p99 < 10 ms (req/s)", lambda g: max_rate(g, 10), ".0f")
    row("closed-loop peak, c=64 (req/s)", lambda g: get(f"{g} peak", "rps"), ".0f")
    row("added latency, c=1, p50 (ms)", lambda g: added(g, "c1", "p50_ms"))
    row("added latency, c=1, p99 (ms)", lambda g: added(g, "c1", "p99_ms"))
    row("added latency at 5,000 req/s, p50 (ms)", lambda g: added(g, "r5000", "p50_ms"))
    row("added latency at 5,000 req/s, p99 (ms)", lambda g: added(g, "r5000", "p99_ms"))
    row("added TTFT, 16 streams, p50 (ms)", lambda g: added(g, "stream", "ttft_p50_ms"))
    row("added TTFT, 16 streams, p99 (ms)", lambda g: added(g, "stream", "ttft_p99_ms"))
    row("chunk gap p99 (ms, mock sends every 20)", lambda g: get(f"{g} stream", "gap_p99_ms"))
    row("CPU per request at peak (µs)", lambda g: get(f"{g} peak", "cpu_us_per_req"), ".1f")
    row("RSS idle (MiB)", lambda g: mib(get(f"{g} idle", "rss_idle_kib")), ".1f")
    row("RSS under load, c=64 (MiB)", lambda g: mib(get(f"{g} peak", "rss_max_kib")), ".1f")
    row("RSS while holding the streams below open (MiB)", lambda g: mib(get(f"{g} hold", "rss_max_kib")), ".1f")
    row("streams held open at once (target 10,000)", lambda g: get(f"{g} hold", "open_max"), ".0f")
    row("errors in the c=1 / peak runs", lambda g: (get(f"{g} c1", "errors") or 0) + (get(f"{g} peak", "errors") or 0), ".0f")
    return lines


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def targets():
    out = ["| target | figure | met |", "|---|---|---|"]

    def t(name, value, ok, spec=".2f", unit=""):
        if value is None:
            met = "not measured"
        elif value <= 0:
            met = "below this run's noise"
        else:
            met = "yes" if ok(value) else "**no**"
        out.append(f"| {name} | {fmt(value, spec)}{unit if value is not None else ''} | {met} |")

    t("closed-loop peak, default pipeline / hyper floor ≥ 0.60",
      ratio(get("sluice peak", "rps"), get("floor peak", "rps")), lambda v: v >= 0.6)
    t("added p99 at 5,000 req/s, Sluice / hyper floor ≤ 1.25",
      ratio(added("sluice", "r5000", "p99_ms"), added("floor", "r5000", "p99_ms")), lambda v: v <= 1.25)
    t("added TTFT p99 < 0.300 ms", added("sluice", "stream", "ttft_p99_ms"), lambda v: v < 0.3, ".3f", " ms")
    t("idle RSS < 20 MiB", mib(get("sluice idle", "rss_idle_kib")), lambda v: v < 20, ".1f", " MiB")
    t("RSS with 10,000 open streams < 250 MiB (held: see table)", mib(get("sluice hold", "rss_max_kib")), lambda v: v < 250, ".1f", " MiB")
    t("closed-loop peak, Sluice / LiteLLM ≥ 50",
      ratio(get("sluice peak", "rps"), get("litellm peak", "rps")), lambda v: v >= 50, ".1f")
    t("CPU per request, LiteLLM / Sluice ≥ 50 (capacity of one core)",
      ratio(get("litellm peak", "cpu_us_per_req"), get("sluice peak", "cpu_us_per_req")), lambda v: v >= 50, ".1f")
    t("CPU per request, Sluice / hyper floor ≤ 1.67 (the 60% peak target, by CPU)",
      ratio(get("sluice peak", "cpu_us_per_req"), get("floor peak", "cpu_us_per_req")), lambda v: v <= 1 / 0.6, ".1f")
    t("added latency c=1 p50, LiteLLM / Sluice ≥ 20",
      ratio(added("litellm", "c1", "p50_ms"), added("sluice", "c1", "p50_ms")), lambda v: v >= 20, ".1f")
    t("CPU per request, 1 MB / 100 KB body ≤ 10 (linear)",
      ratio(get("sluice body 1000000", "cpu_us_per_req"), get("sluice body 100000", "cpu_us_per_req")),
      lambda v: v <= 10)
    t("added latency p50 at 1 MB, Sluice / hyper floor ≤ 2",
      ratio(added("sluice", "body 1000000", "p50_ms"), added("floor", "body 1000000", "p50_ms")),
      lambda v: v <= 2)
    base = get("sluice peak", "cpu_us_per_req")
    t("CPU per request, 1,000 models + 10,000 keys configured / 1 + 1 ≤ 1.25",
      ratio(get("big 1key 1model", "cpu_us_per_req"), base), lambda v: v <= 1.25)
    t("CPU per request, cycling 10,000 keys / 1 key ≤ 1.25",
      ratio(get("big 10000keys 1model", "cpu_us_per_req"), get("big 1key 1model", "cpu_us_per_req")),
      lambda v: v <= 1.25)
    t("CPU per request, cycling 1,000 models / 1 model ≤ 1.25",
      ratio(get("big 1key 1000models", "cpu_us_per_req"), get("big 1key 1model", "cpu_us_per_req")),
      lambda v: v <= 1.25)
    return out


def scaling():
    out = ["| body size, c=1 | " + " | ".join(f"{g} added p50 / p99 (ms), CPU µs" for g in ("floor", "nginx", "sluice")) + " |",
           "|---|---|---|---|"]
    for size, name in ((1000, "1 KB"), (100000, "100 KB"), (1000000, "1 MB")):
        cells = []
        for g in ("floor", "nginx", "sluice"):
            s = f"body {size}"
            cells.append(f"{fmt(added(g, s, 'p50_ms'))} / {fmt(added(g, s, 'p99_ms'))}, "
                         f"{fmt(get(f'{g} {s}', 'cpu_us_per_req'), '.0f')}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "| config and traffic, c=64 | req/s | CPU µs per request |", "|---|---|---|"]
    for label, name in (("sluice peak", "1 model, 1 key"),
                        ("big 1key 1model", "1,000 models + 10,000 keys configured, 1 used"),
                        ("big 1key 1000models", "cycling 1,000 models"),
                        ("big 10000keys 1model", "cycling 10,000 keys")):
        out.append(f"| {name} | {fmt(get(label, 'rps'), '.0f')} | {fmt(get(label, 'cpu_us_per_req'), '.1f')} |")
    out += ["", "| everything on, cache | c=1 p50 (ms) | c=1 p99 (ms) | peak req/s | CPU µs per request |",
            "|---|---|---|---|---|"]
    for label, name in (("sluice-full", "miss (every prompt new)"), ("cache-hit", "hit (same prompt)")):
        out.append(f"| {name} | {fmt(get(f'{label} c1', 'p50_ms'))} | {fmt(get(f'{label} c1', 'p99_ms'))} | "
                   f"{fmt(get(f'{label} peak', 'rps'), '.0f')} | {fmt(get(f'{label} peak', 'cpu_us_per_req'), '.1f')} |")
    return out


def smoke():
    """CI bounds: generous, for a noisy 2-core box and debug builds."""
    max_added = float(os.environ.get("BENCH_SMOKE_MAX_ADDED_MS", "5"))
    min_ratio = float(os.environ.get("BENCH_SMOKE_MIN_RATIO", "0.10"))
    a = added("sluice", "c1", "p50_ms")
    r = ratio(get("sluice peak", "rps"), get("direct peak", "rps"))
    errors = sum(r.get("errors", 0) for r in rows)
    print(f"smoke: added p50 at c=1 {fmt(a)} ms (bound {max_added}), "
          f"throughput sluice/direct {fmt(r, '.2f')} (bound {min_ratio}), errors {errors}")
    failed = a is None or r is None or a > max_added or r < min_ratio or errors > 0
    print("bench smoke passed" if not failed else "bench smoke FAILED")
    return 1 if failed else 0


print("\n".join(table()))
if MODE == "smoke":
    sys.exit(smoke())
print()
print("\n".join(targets()))
print()
print("\n".join(scaling()))
errs = {r["label"]: r["errors"] for r in rows if r.get("errors")}
print()
print("errors:", errs or "none")
