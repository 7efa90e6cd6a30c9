# Helpers for bench/run.sh: start each system under test pinned the same way,
# wait until it answers, and stop it. Sourced, not run.
#
# Every start_* function sets URL (base URL, no path), PID (the process whose
# CPU time and memory are charged) and KEYARGS (load-generator key options).

PIN_GW="" PIN_LOAD=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_GW="taskset -c 0" PIN_LOAD="taskset -c 1"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

wait_listening() { # logfile -> prints the URL from its "listening on" line
  for _ in $(seq 1 400); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$1" | head -n1 | sed 's/listening on //') || true
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.05
  done
  echo "process did not start: $(cat "$1")" >&2; return 1
}

wait_http() { # url [seconds]
  for _ in $(seq 1 $(( ${2:-60} * 10 ))); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2; return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_mock() {
  $PIN_LOAD "$BIN" mock --listen 127.0.0.1:0 --no-record > "$OUT/mock.log" 2>&1 &
  MOCK_PID=$!; pids+=("$MOCK_PID")
  MOCK=$(wait_listening "$OUT/mock.log")
}

start_direct() { URL=$MOCK PID=$MOCK_PID KEYARGS=(); }

start_floor() {
  $PIN_GW "$FLOOR" --upstream "$MOCK" > "$OUT/floor.log" 2>&1 &
  PID=$!; pids+=("$PID"); KEYARGS=()
  URL=$(wait_listening "$OUT/floor.log")
}

start_nginx() {
  local port dir="$OUT/nginx"
  port=$(free_port)
  mkdir -p "$dir/tmp"
  sed -e "s|@DIR@|$PWD/$dir|g" -e "s|@PORT@|$port|" -e "s|@UPSTREAM@|${MOCK#http://}|" \
    bench/nginx.conf > "$dir/nginx.conf"
  $PIN_GW nginx -p "$PWD/$dir" -c "$PWD/$dir/nginx.conf" > "$OUT/nginx.log" 2>&1 &
  PID=$!; pids+=("$PID"); KEYARGS=()
  URL="http://127.0.0.1:$port"
  wait_http "$URL/" 10
}

# start_sluice NAME CONFIG [KEYS]: a gateway with its own data directory and
# KEYS virtual keys (default 1) created through the admin API.
start_sluice() {
  local name=$1 config=$2 nkeys=${3:-1} data="$OUT/data-$1" admin
  rm -rf "$data"
  admin="127.0.0.1:$(free_port)"
  $PIN_GW "$BIN" serve --config "$config" --listen 127.0.0.1:0 --admin-listen "$admin" \
    --data-dir "$data" --log-format json --log-level warn,sluice::request=info \
    > "$OUT/$name.log" 2>&1 &
  PID=$!; pids+=("$PID")
  URL=$(wait_listening "$OUT/$name.log")
  wait_http "http://$admin/" 10
  python3 bench/keys.py "http://$admin" "$(cat "$data/admin.key")" "$nkeys" "$OUT/keys-$name.txt"
  KEYARGS=(--keys-file "$OUT/keys-$name.txt")
}

start_litellm() {
  local port venv=${LITELLM_VENV:-bench/.venv-litellm}
  if [ ! -x "$venv/bin/litellm" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
  fi
  port=$(free_port)
  sed "s|@MOCK@|$MOCK|" bench/litellm.yaml > "$OUT/litellm.yaml"
  LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    $PIN_GW "$venv/bin/litellm" --config "$OUT/litellm.yaml" --host 127.0.0.1 \
    --port "$port" --num_workers 1 > "$OUT/litellm.log" 2>&1 &
  PID=$!; pids+=("$PID"); KEYARGS=()
  URL="http://127.0.0.1:$port"
  wait_http "$URL/health/liveliness" 180
}
