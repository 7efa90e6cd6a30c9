#!/usr/bin/env bash
# Benchmark: direct-to-mock versus through Sluice, in one run, on loopback.
#
#   bench/run.sh [DURATION_SECONDS]
#
# Builds release binaries, starts the mock provider and Sluice, and runs the
# load generator against each. With 2+ CPUs, Sluice is pinned to CPU 0 and
# the mock and load generator to CPU 1 (taskset), the same for every run.
# Prints a markdown table; ratios are what to compare across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
OUT="bench/results"
mkdir -p "$OUT"

cargo build --release -q -p sluice -p sluice-loadgen
cargo build --release -q -p sluice-gateway --example redaction
BIN=target/release/sluice
LG=target/release/sluice-loadgen

# Guardrail redaction of a 100 KB prompt (target: median under 1 ms).
$(command -v taskset >/dev/null && echo "taskset -c 0") target/release/examples/redaction | tee "$OUT/redaction.txt"

PIN_GW="" PIN_LOAD=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_GW="taskset -c 0" PIN_LOAD="taskset -c 1"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_url() { # file -> url
  for _ in $(seq 1 200); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$1" | head -n1 | sed 's/listening on //') || true
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.05
  done
  echo "process did not start: $(cat "$1")" >&2; return 1
}

$PIN_LOAD $BIN mock --listen 127.0.0.1:0 --no-record > "$OUT/mock.log" 2>&1 &
pids+=($!)
MOCK=$(wait_url "$OUT/mock.log")

cat > "$OUT/bench.yaml" <<YAML
providers:
  mock:
    type: openai_compatible
    base_url: $MOCK/v1
models:
  - name: bench
    provider: mock
    model: mock-gpt
YAML
$PIN_GW $BIN serve --config "$OUT/bench.yaml" --listen 127.0.0.1:0 --log-format json --log-level warn,sluice::request=info > "$OUT/gateway.log" 2>&1 &
pids+=($!)
GW=$(wait_url "$OUT/gateway.log")

# A second gateway with the response cache on: after the warm-up's first
# miss, every request of the cached scenarios is a hit.
{ cat "$OUT/bench.yaml"; printf 'cache:\n  enabled: true\n'; } > "$OUT/bench-cache.yaml"
$PIN_GW $BIN serve --config "$OUT/bench-cache.yaml" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --data-dir "$OUT/cache-data" --log-format json --log-level warn,sluice::request=info > "$OUT/gateway-cache.log" 2>&1 &
pids+=($!)
GWC=$(wait_url "$OUT/gateway-cache.log")

run() { # label url extra-args...
  local label=$1 url=$2; shift 2
  $PIN_LOAD $LG --url "$url/v1/chat/completions" --duration "$DURATION" --label "$label" "$@"
}

results="$OUT/results.jsonl"
: > "$results"
for target in "direct $MOCK" "sluice $GW"; do
  set -- $target
  run "$1 closed c=32" "$2" --concurrency 32 >> "$results"
  run "$1 closed c=1" "$2" --concurrency 1 >> "$results"
  run "$1 stream c=16" "$2" --concurrency 16 --stream --mock "words=64 itl_ms=20" >> "$results"
done
run "cached closed c=32" "$GWC" --concurrency 32 >> "$results"
run "cached closed c=1" "$GWC" --concurrency 1 >> "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["label"]: r for r in rows}
print("| scenario | direct | sluice | ratio (sluice/direct) |")
print("|---|---|---|---|")
def row(name, key, scen, lower_is_better=True):
    d, s = by[f"direct {scen}"][key], by[f"sluice {scen}"][key]
    ratio = s / d if d else float("nan")
    print(f"| {name} | {d:.3f} | {s:.3f} | {ratio:.2f}x |")
row("throughput, c=32 (req/s)", "rps", "closed c=32")
row("p50 latency, c=32 (ms)", "p50_ms", "closed c=32")
row("p99 latency, c=32 (ms)", "p99_ms", "closed c=32")
row("p50 latency, c=1 (ms)", "p50_ms", "closed c=1")
row("p99 latency, c=1 (ms)", "p99_ms", "closed c=1")
row("stream TTFT p50 (ms)", "ttft_p50_ms", "stream c=16")
row("stream TTFT p99 (ms)", "ttft_p99_ms", "stream c=16")
errs = {r["label"]: r["errors"] for r in rows if r["errors"]}
print()
d1, s1 = by["direct closed c=1"], by["sluice closed c=1"]
print(f"added latency at c=1: p50 {s1['p50_ms']-d1['p50_ms']:.3f} ms, p99 {s1['p99_ms']-d1['p99_ms']:.3f} ms")
print()
print("| cache hit vs proxied to a zero-delay mock | proxied | cache hit | ratio (hit/proxied) |")
print("|---|---|---|---|")
for scen in ("closed c=1", "closed c=32"):
    for key, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
        p, c = by[f"sluice {scen}"][key], by[f"cached {scen}"][key]
        print(f"| {name} latency, {scen.split()[1]} (ms) | {p:.3f} | {c:.3f} | {c / p:.2f}x |")
p, c = by["sluice closed c=32"]["rps"], by["cached closed c=32"]["rps"]
print(f"| throughput, c=32 (req/s) | {p:.0f} | {c:.0f} | {c / p:.2f}x |")
print("errors:", errs or "none")
PY
