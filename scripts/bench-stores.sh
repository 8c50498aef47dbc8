#!/usr/bin/env bash
# SQLite vs PostgreSQL under `warden serve` (release), in one run (issue 8).
#
#   scripts/bench-stores.sh          both stores, one node each, then two
#                                    PostgreSQL nodes side by side
#
# For each store: one user; wrk on the same machine drives
#   - GET api/me/      (Bearer auth + a read of the user from the store), 16 connections
#   - GET api/whoami/  (Bearer auth only: signature + revocation set), 16 connections
#   - POST api/token/refresh/ with rotation, durable: 16 independent chains
#     (wrk -t16 -c16: one connection and one refresh token per thread; each
#     response's new refresh token is the next request's), so every request
#     is a real rotation, never a reuse.
# PostgreSQL is scripts/pg.sh's throw-away cluster (fsync on, synchronous_commit on).
# Knobs (env): BENCH_DURATION (s, default 10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-10}"
BIN="$ROOT/target/release/warden"
[ -x "$BIN" ] || cargo build --release -p warden-cli
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PG_BASE="$(bash scripts/pg.sh start)"
PG_ROOT="${PG_BASE%/*}/postgres"
psql_admin() { psql "$PG_ROOT" -qAtc "$1" >/dev/null; }

cat >"$WORK/warden.toml" <<CONF
SIGNING_KEY = "bench-secret-0123456789abcdef-0123456789abcdef-0123"
ARGON2_MEMORY_KIB = 64
ARGON2_ITERATIONS = 1
LOCKOUT_THRESHOLD = 0
CONF

cat >"$WORK/refresh.lua" <<'LUA'
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local n = 0
function setup(thread)
  n = n + 1
  thread:set("token", tokens[n])
end
local errors = 0
function request()
  return wrk.format("POST", "/api/token/refresh/", { ["Content-Type"] = "application/json" },
    '{"refresh":"' .. token .. '"}')
end
function response(status, headers, body)
  if status == 200 then
    token = body:match('"refresh"%s*:%s*"([^"]+)"') or token
  else
    errors = errors + 1
  end
end
LUA

# start_node NAME DATABASE -> sets NODE (http://host:port)
start_node() {
  local name="$1" db="$2" fifo="$WORK/$1.out"
  mkfifo "$fifo"
  "$BIN" --config "$WORK/warden.toml" --database "$db" serve --bind 127.0.0.1:0 \
    >"$fifo" 2>"$WORK/$name.log" &
  PIDS+=("$!")
  local line
  read -r line <"$fifo"
  NODE="http://${line#warden listening on http://}"
  cat "$fifo" >/dev/null &
}

login() { # NODE -> prints access and refresh, one per line
  curl -fsS -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"correct horse battery"}' "$1/api/token/" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["access"]); print(d["refresh"])'
}

rate() { grep -E '^Requests/sec' | awk '{print $2}'; }
p99() { grep -E '^ +99%' | awk '{print $2}'; }

# bench LABEL NODE [NODE2]
bench() {
  local label="$1" node="$2" node2="${3:-$2}" access out i
  access="$(login "$node" | sed -n 1p)"
  for path in me whoami; do
    out="$(wrk -t2 -c16 -d"${DURATION}s" --latency -H "Authorization: Bearer $access" "$node/api/$path/")"
    printf '%-34s GET api/%-7s %10s req/s  p99 %s\n' "$label" "$path/" "$(rate <<<"$out")" "$(p99 <<<"$out")"
  done
  : >"$WORK/tokens"
  for i in $(seq 16); do login "$node" | tail -n1 >>"$WORK/tokens"; done
  out="$(BENCH_TOKENS="$WORK/tokens" wrk -t16 -c16 -d"${DURATION}s" --latency -s "$WORK/refresh.lua" "$node")"
  printf '%-34s POST refresh   %10s req/s  p99 %s  (non-2xx: %s)\n' "$label" "$(rate <<<"$out")" \
    "$(p99 <<<"$out")" "$(grep -oE 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | awk '{print $NF}' || echo 0)"
  if [ "$node2" != "$node" ]; then
    # Two nodes at once: half the chains on each.
    : >"$WORK/tokens"
    for i in $(seq 8); do login "$node" | tail -n1 >>"$WORK/tokens"; done
    BENCH_TOKENS="$WORK/tokens" wrk -t8 -c8 -d"${DURATION}s" -s "$WORK/refresh.lua" "$node" >"$WORK/a.out" &
    local wa=$!
    : >"$WORK/tokens2"
    for i in $(seq 8); do login "$node2" | tail -n1 >>"$WORK/tokens2"; done
    BENCH_TOKENS="$WORK/tokens2" wrk -t8 -c8 -d"${DURATION}s" -s "$WORK/refresh.lua" "$node2" >"$WORK/b.out"
    wait "$wa"
    printf '%-34s POST refresh   %10s req/s  (A %s + B %s)\n' "$label, both nodes" \
      "$(python3 -c "print(round($(rate <"$WORK/a.out") + $(rate <"$WORK/b.out")))")" \
      "$(rate <"$WORK/a.out")" "$(rate <"$WORK/b.out")"
  fi
}

echo "wrk ${DURATION}s per run, $(nproc) cores, server and load on the same machine"

# SQLite
"$BIN" --config "$WORK/warden.toml" --database "$WORK/warden.db" user add alice --password-stdin \
  <<<"correct horse battery" >/dev/null
start_node sqlite "$WORK/warden.db"
bench "SQLite (one node)" "$NODE"
kill "${PIDS[-1]}"

# PostgreSQL: a fresh database
psql_admin "DROP DATABASE IF EXISTS warden_bench"
psql_admin "CREATE DATABASE warden_bench"
PG_URL="${PG_BASE%/*}/warden_bench"
"$BIN" --config "$WORK/warden.toml" --database "$PG_URL" user add alice --password-stdin \
  <<<"correct horse battery" >/dev/null
start_node pg-a "$PG_URL"
A="$NODE"
bench "PostgreSQL (one node)" "$A"
start_node pg-b "$PG_URL"
B="$NODE"
bench "PostgreSQL (two nodes)" "$A" "$B"
