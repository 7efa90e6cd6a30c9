#!/usr/bin/env bash
# The benchmark suite: direct to the mock, a plain hyper proxy and nginx as
# the floor, Sluice (default pipeline and everything on) and LiteLLM, side by
# side in one run, on loopback, then the scaling runs. Prints markdown tables
# (bench/report.py); every figure is compared against the same run's direct
# or floor figure.
#
#   bench/run.sh            full run (about 15 minutes)
#   bench/run.sh --quick    every scenario, short (about 6 minutes)
#   bench/run.sh --smoke    CI: Sluice vs direct only, fails on a regression
#
# Environment: BENCH_PROFILE=release|debug (release; the smoke defaults to
# debug, which scripts/test has built already), BENCH_SKIP=litellm,nginx,...
# (systems to leave out), LITELLM_VENV (default bench/.venv-litellm),
# BENCH_REDACTION=1 (also time guardrail redaction of a 100 KB prompt).
#
# The gateway under test runs on CPU 0, the mock and the load generator on
# CPU 1 (taskset), the same for every system. Results: bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=full
case "${1:-}" in --quick) MODE=quick ;; --smoke) MODE=smoke ;; "") ;; *) echo "usage: $0 [--quick|--smoke]" >&2; exit 2 ;; esac
OUT="bench/results"
mkdir -p "$OUT"
LITELLM_VERSION=1.93.0
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Streams held open at once: 10,000, unless the descriptor limit is lower
# (a proxy holds two descriptors per stream: client and upstream).
NOFILE=$(ulimit -n); [ "$NOFILE" = unlimited ] && NOFILE=1048576
HOLD=$(( NOFILE >= 20200 ? 10000 : (NOFILE - 200) / 2 ))

case $MODE in
  full)  D=5; SWEEP_D=3 ;;
  quick) D=2; SWEEP_D=1.5 ;;
  smoke) D=5 ;;
esac
if [ "$MODE" = smoke ]; then PROFILE=${BENCH_PROFILE:-debug}; else PROFILE=${BENCH_PROFILE:-release}; fi
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p sluice -p sluice-loadgen -p sluice-floor
  # Opt-in: the example's dev-dependencies rebuild part of the graph.
  [ -z "${BENCH_REDACTION:-}" ] || cargo build --release -q -p sluice-gateway --example redaction
else
  cargo build -q -p sluice -p sluice-loadgen -p sluice-floor
fi
# Smoke bounds: generous, for a noisy shared 2-core box (report.py).
if [ "$PROFILE" = release ]; then
  export BENCH_SMOKE_MAX_ADDED_MS=${BENCH_SMOKE_MAX_ADDED_MS:-3} BENCH_SMOKE_MIN_RATIO=${BENCH_SMOKE_MIN_RATIO:-0.25}
else
  export BENCH_SMOKE_MAX_ADDED_MS=${BENCH_SMOKE_MAX_ADDED_MS:-15} BENCH_SMOKE_MIN_RATIO=${BENCH_SMOKE_MIN_RATIO:-0.08}
fi
BIN="target/$PROFILE/sluice" LG="target/$PROFILE/sluice-loadgen" FLOOR="target/$PROFILE/sluice-floor"
source bench/lib.sh
skip() { [[ ",${BENCH_SKIP:-}," == *",$1,"* ]]; }

results="$OUT/results.jsonl"
: > "$results"
EXTRA=()  # more load-generator options for every run (--unique: cache misses)
note() { printf '%s\n' "$1" >> "$results"; }

# lg LABEL [loadgen args...]: one load-generator run against $URL.
lg() {
  local label=$1; shift
  $PIN_LOAD "$LG" --url "$URL/v1/chat/completions" --label "$label" "${KEYARGS[@]}" "${EXTRA[@]}" "$@" \
    | tee -a "$results" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("  %s: %.0f req/s, p50 %.3f ms, p99 %.3f ms, errors %d" % (r["label"], r["rps"], r["p50_ms"], r["p99_ms"], r["errors"]))' >&2
}

start_mock
{
  printf 'server: { max_in_flight: 20000 }\nauth: { mode: required }\n'
  printf 'providers:\n  mock: { type: openai_compatible, base_url: "%s/v1" }\n' "$MOCK"
  printf 'models:\n  - { name: bench, provider: mock, model: mock-gpt }\n'
} > "$OUT/sluice.yaml"
cat "$OUT/sluice.yaml" - > "$OUT/sluice-full.yaml" <<'YAML'
limits:
  rules:
    - { name: per-key, per: [key], metric: requests, limit: 1000000000, window: 1m }
guardrails:
  policies:
    secrets: { type: dlp, action: redact }
  global: [secrets]
cache: { enabled: true }
YAML
{
  sed '/^models:/,$d' "$OUT/sluice.yaml"
  echo 'models:'
  for i in $(seq 0 999); do echo "  - { name: bench-$i, provider: mock, model: mock-gpt }"; done
} > "$OUT/sluice-big.yaml"

# The side-by-side scenarios for the system just started.
side_by_side() { # name [--no-hold]
  local g=$1 peak rate
  note "{\"label\": \"$g idle\", \"rss_idle_kib\": $(rss_kib "$PID")}"
  lg "$g c1" --concurrency 1 --duration "$D" --pid "$PID"
  lg "$g peak" --concurrency 64 --duration "$D" --pid "$PID"
  [ "$MODE" = smoke ] && return
  peak=$(tail -n1 "$results" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["rps"]))')
  if [ "$peak" -gt 5000 ]; then
    lg "$g r5000" --rate 5000 --concurrency 512 --duration "$D" --pid "$PID"
  fi
  # Fixed-rate sweep, until two rates in a row miss p99 < 10 ms (one miss
  # can be a neighbour's compile on this shared machine).
  local misses=0
  for rate in 50 100 200 500 1000 2000 3000 5000 7500 10000 15000 20000 25000 30000 40000; do
    [ "$rate" -gt $(( peak * 3 / 2 + 100 )) ] && break
    lg "$g rate $rate" --rate "$rate" --concurrency 1024 --duration "$SWEEP_D"
    if tail -n1 "$results" | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["p99_ms"] < 10 and r["error_rate"] < 0.001 else 1)'; then
      misses=0
    else
      misses=$((misses + 1)); [ "$misses" -lt 2 ] || break
    fi
  done
  lg "$g stream" --stream --concurrency 16 --duration "$D" --mock "words=64 itl_ms=20"
  if [ "${2:-}" != --no-hold ]; then
    # $HOLD streams held open at once: opened over 5 s, each lasting 20 s.
    lg "$g hold" --stream --concurrency "$HOLD" --ramp 5 --warmup 6 --duration 8 \
      --mock "words=20 itl_ms=1000" --pid "$PID"
  fi
}

# Body size scaling: c=1, 1 KB / 100 KB / 1 MB prompts.
bodies() { # name
  for size in 1000 100000 1000000; do
    lg "$1 body $size" --concurrency 1 --duration "$D" --prompt-bytes "$size" --pid "$PID"
  done
}

if [ -n "${BENCH_REDACTION:-}" ] && [ "$MODE" != smoke ]; then
  # Guardrail redaction of a 100 KB prompt (target: median under 1 ms).
  $PIN_GW target/release/examples/redaction | tee "$OUT/redaction.txt" >&2
fi

echo "== direct" >&2
start_direct
side_by_side direct
[ "$MODE" = smoke ] || bodies direct

if [ "$MODE" != smoke ]; then
  echo "== floor (hyper)" >&2
  start_floor; side_by_side floor; bodies floor; stop "$PID"
  if ! skip nginx && command -v nginx >/dev/null; then
    echo "== nginx" >&2
    start_nginx; side_by_side nginx; bodies nginx; stop "$PID"
  fi
fi

echo "== sluice (default pipeline)" >&2
start_sluice sluice "$OUT/sluice.yaml"
side_by_side sluice
[ "$MODE" = smoke ] || bodies sluice
stop "$PID"

if [ "$MODE" != smoke ]; then
  echo "== sluice, everything on" >&2
  start_sluice sluice-full "$OUT/sluice-full.yaml"
  EXTRA=(--unique); side_by_side sluice-full; EXTRA=()
  # The same prompt every time: after the first miss, every request is a hit.
  lg "cache-hit c1" --concurrency 1 --duration "$D"
  lg "cache-hit peak" --concurrency 64 --duration "$D" --pid "$PID"
  stop "$PID"

  echo "== sluice, 1,000 models and 10,000 keys" >&2
  start_sluice sluice-big "$OUT/sluice-big.yaml" 10000
  keys_all=("${KEYARGS[@]}")
  head -n1 "$OUT/keys-sluice-big.txt" > "$OUT/keys-sluice-big-1.txt"
  KEYARGS=(--keys-file "$OUT/keys-sluice-big-1.txt")
  lg "big 1key 1model" --concurrency 64 --duration "$D" --pid "$PID" --model bench-0
  lg "big 1key 1model c1" --concurrency 1 --duration "$D" --pid "$PID" --model bench-0
  lg "big 1key 1000models" --concurrency 64 --duration "$D" --pid "$PID" --model bench --models 1000
  KEYARGS=("${keys_all[@]}")
  lg "big 10000keys 1model" --concurrency 64 --duration "$D" --pid "$PID" --model bench-0
  stop "$PID"

  if ! skip litellm; then
    echo "== LiteLLM $LITELLM_VERSION (installing into a venv on first use)" >&2
    start_litellm
    lg "litellm warm" --concurrency 4 --duration 3 >/dev/null 2>&1 || true
    side_by_side litellm --no-hold
    stop "$PID"
  fi
fi

python3 bench/report.py "$MODE" "$results" | tee "$OUT/report.md"
