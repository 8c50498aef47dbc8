#!/usr/bin/env bash
# Warden vs SimpleJWT over HTTP, side by side, in one run (issue 9; BENCHMARKS.md).
#
#   scripts/bench-http.sh                 the A/B comparison (default: 3 rounds, under 10 min)
#   scripts/bench-http.sh --scaling       the server scaling runs only (refresh rate,
#                                         authenticated GET and memory vs database size)
#   scripts/bench-http.sh --all           both, then the plots
#   scripts/bench-http.sh --plots         only redraw docs/bench/*.svg from the last results
#
# Both servers run on 127.0.0.1 with the same token settings (HS256, access 6 h,
# refresh 1 day, ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION on), each
# without an access log, and are driven by the same load tool (bench/,
# `warden-bench load`) with the same connections and duration. Rounds
# alternate the order (Warden first, then SimpleJWT first, ...).
#
# Knobs (env): BENCH_DURATION (s, default 6) · BENCH_WARMUP (s, 1) ·
# BENCH_LOGIN_DURATION (s, 10) · BENCH_LOGOUT_TOKENS_WARDEN (25000 per round) ·
# BENCH_ROUNDS (3) · BENCH_CONNECTIONS (16) · BENCH_LOAD_THREADS (2) ·
# BENCH_DURABLE_PEER (1: the write scenarios, refresh and logout, also run
# against a second SimpleJWT whose SQLite fsyncs every commit, label
# simplejwt-durable; 0: not) · BENCH_DURABLE_PEER_MODE (its PEER_SQLITE_MODE:
# wal-full, the default, or django-default: Django's rollback journal) ·
# BENCH_SCENARIOS ("hello whoami me verify refresh logout login") ·
# BENCH_SERVERS ("warden simplejwt simplejwt-durable": which servers run; e.g.
# "warden" alone for same-run Warden ratios) ·
# BENCH_SCALING_SIZES ("1000 10000 100000"; 1000000 works but seeding 2M
# sessions through the store takes a quarter of an hour here) · BENCH_OUT (results dir,
# default target/bench-http/<time>) · PEER_WORKERS / PEER_THREADS (SimpleJWT's
# gunicorn: default 4 sync workers) · BENCH_NO_BUILD=1 (use target/release as is) ·
# BENCH_PUBLISH=0 (keep results out of docs/bench, for side runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE=compare
case "${1:-}" in
  "") ;;
  --scaling) MODE=scaling ;;
  --all) MODE=all ;;
  --plots) MODE=plots ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

DURATION="${BENCH_DURATION:-6}"
WARMUP="${BENCH_WARMUP:-1}"
LOGIN_DURATION="${BENCH_LOGIN_DURATION:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNS="${BENCH_CONNECTIONS:-16}"
LOAD_THREADS="${BENCH_LOAD_THREADS:-2}"
SCENARIOS="${BENCH_SCENARIOS:-hello whoami me verify refresh logout login}"
SERVERS=" ${BENCH_SERVERS:-warden simplejwt simplejwt-durable} "
wanted() { case "$SERVERS" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
SIZES="${BENCH_SCALING_SIZES:-1000 10000 100000}"
export PEER_WORKERS="${PEER_WORKERS:-4}"
export PEER_THREADS="${PEER_THREADS:-1}"
export PEER_ACCESS_LOG=0
PASSWORD="correct horse battery"
export PEER_USERS="alice:$PASSWORD"
OUT="${BENCH_OUT:-$ROOT/target/bench-http/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
PLOTS="$ROOT/docs/bench"
WARDEN="$ROOT/target/release/warden"
BENCH="$ROOT/target/release/warden-bench"
VENV="${WARDEN_VENV:-$ROOT/.venv}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------- cleanup ----
WARDEN_PID=""
PEER_PORT=""
DURABLE_PORT=""
TMP="$(mktemp -d "${TMPDIR:-/tmp}/warden-bench.XXXXXX")"
cleanup() {
  stop_warden
  if [ -n "$PEER_PORT" ]; then "$ROOT/interop/peer.sh" stop "$PEER_PORT" >/dev/null 2>&1 || true; fi
  if [ -n "$DURABLE_PORT" ]; then "$ROOT/interop/peer.sh" stop "$DURABLE_PORT" >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

machine() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}') ($(nproc) cores)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
  } | tee "$OUT/machine.txt" >&2
}

build() {
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    [ -x "$WARDEN" ] && [ -x "$BENCH" ] || die "BENCH_NO_BUILD=1 but $WARDEN or $BENCH is missing"
    return
  fi
  log "building release warden and warden-bench"
  cargo build --release -q -p warden-cli -p warden-bench
}

# -------------------------------------------------------------- warden ----
# warden_setup DIR: config (fixed HS256 key so the seeder can mint), database, alice.
warden_setup() {
  local dir="$1" key
  mkdir -p "$dir"
  key="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 64)"
  cat >"$dir/warden.toml" <<EOF
# Same token settings as the SimpleJWT peer (interop/peer.sh defaults).
ALGORITHM = "HS256"
SIGNING_KEY = "$key"
ACCESS_TOKEN_LIFETIME = 21600
REFRESH_TOKEN_LIFETIME = 86400
ROTATE_REFRESH_TOKENS = true
BLACKLIST_AFTER_ROTATION = true

[server]
KEY_STORE = "config"
EOF
  chmod 600 "$dir/warden.toml"
  printf '%s\n' "$PASSWORD" | "$WARDEN" --config "$dir/warden.toml" --database "$dir/warden.db" \
    user add alice --password-stdin >/dev/null
}

# start_warden DIR: serve on a free loopback port; sets WARDEN_PID and WARDEN_URL.
start_warden() {
  local dir="$1" i
  : >"$dir/serve.out"
  # RUST_LOG=warn: no per-request log lines (the peer runs without its access log too).
  RUST_LOG=warn "$WARDEN" --config "$dir/warden.toml" --database "$dir/warden.db" \
    serve --bind 127.0.0.1:0 >"$dir/serve.out" 2>"$dir/serve.err" </dev/null &
  WARDEN_PID=$!
  for i in $(seq 1 600); do
    WARDEN_URL="$(sed -n 's/^warden listening on \(http:[^ ]*\)$/\1/p' "$dir/serve.out" | head -n1)"
    [ -n "$WARDEN_URL" ] && { WARDEN_URL="${WARDEN_URL%/}/"; return 0; }
    kill -0 "$WARDEN_PID" 2>/dev/null || { cat "$dir/serve.err" >&2; die "warden serve exited"; }
    sleep 0.1
  done
  die "warden serve did not start within 60 s"
}

stop_warden() {
  if [ -n "$WARDEN_PID" ] && kill -0 "$WARDEN_PID" 2>/dev/null; then
    kill -TERM "$WARDEN_PID" 2>/dev/null || true
    wait "$WARDEN_PID" 2>/dev/null || true
  fi
  WARDEN_PID=""
}

# ---------------------------------------------------------------- peer ----
# peer_mint DB N FILE: N refresh tokens of alice, made in the peer's own Django
# (RefreshToken.for_user: the outstanding-token row a login writes, without the
# password check), before any timing.
peer_mint() {
  local db="$1" n="$2" file="$3"
  (
    cd "$ROOT/interop/simplejwt_peer"
    PEER_DB="$db" "$VENV/bin/python" manage.py shell -c "
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.tokens import RefreshToken
u = get_user_model().objects.get(username='alice')
with transaction.atomic():
    toks = [str(RefreshToken.for_user(u)) for _ in range($n)]
with open('$file', 'w') as f:
    f.write('\n'.join(toks) + '\n')
"
  )
}

peer_hash_cost() {
  (
    cd "$ROOT/interop/simplejwt_peer"
    PEER_DB="$PEER_DB_FILE" "$VENV/bin/python" manage.py shell -c "
import statistics, time
from django.contrib.auth.hashers import get_hasher
h = get_hasher('default')
enc = h.encode('$PASSWORD', h.salt())
runs = []
for _ in range(5):
    t = time.perf_counter(); assert h.verify('$PASSWORD', enc); runs.append((time.perf_counter() - t) * 1000)
print(f'{h.algorithm} iterations={h.iterations}: median {statistics.median(runs):.1f} ms per verification (5 runs)')
"
  )
}

# ---------------------------------------------------------------- load ----
# load LABEL URL SCENARIO ROUND [extra args...]
load() {
  local label="$1" url="$2" scenario="$3" round="$4" d="$DURATION"; shift 4
  # A SimpleJWT login takes ~0.35 s of CPU: a longer window counts enough of them.
  [ "$scenario" = login ] && d="$LOGIN_DURATION"
  "$BENCH" load --base "$url" --scenario "$scenario" --connections "$CONNS" \
    --duration "$d" --warmup "$WARMUP" --threads "$LOAD_THREADS" \
    --username alice --password "$PASSWORD" --label "$label" --round "$round" "$@"
}

compare() {
  local results="$OUT/results.jsonl" wdir="$TMP/warden" per_round_w per_round_p r s order
  : >"$results"
  # Tokens for the logout scenario, per round: more than either server can
  # revoke in one window, so the pool lasts (a pool that runs dry ends the
  # window at its last answer; the tool reports the measured seconds).
  per_round_w="${BENCH_LOGOUT_TOKENS_WARDEN:-25000}"
  per_round_p="${BENCH_LOGOUT_TOKENS_PEER:-4000}"

  log "Warden: setting up $wdir"
  warden_setup "$wdir"
  case " $SCENARIOS " in *" logout "*)
    "$BENCH" seed --config "$wdir/warden.toml" --database "$wdir/warden.db" \
      --mint $((per_round_w * ROUNDS)) --mint-out "$TMP/w-tokens.txt"
    split -l "$per_round_w" -d -a 2 "$TMP/w-tokens.txt" "$TMP/w-tokens."
  esac
  start_warden "$wdir"
  log "Warden at $WARDEN_URL (pid $WARDEN_PID)"

  if wanted simplejwt; then
  PEER_PORT="$(free_port)"
  PEER_DB_FILE="${PEER_RUN_DIR:-${TMPDIR:-/tmp}/warden-simplejwt-peer}/peer-$PEER_PORT.sqlite3"
  log "SimpleJWT: gunicorn with $PEER_WORKERS sync workers x $PEER_THREADS threads, SQLite"
  PEER_URL="$("$ROOT/interop/peer.sh" start "$PEER_PORT")"
  case " $SCENARIOS " in *" logout "*)
    peer_mint "$PEER_DB_FILE" $((per_round_p * ROUNDS)) "$TMP/p-tokens.txt"
    split -l "$per_round_p" -d -a 2 "$TMP/p-tokens.txt" "$TMP/p-tokens."
  esac
  log "SimpleJWT at $PEER_URL"
  fi
  if [ "${BENCH_DURABLE_PEER:-1}" = 1 ] && wanted simplejwt-durable; then
    DURABLE_PORT="$(free_port)"
    DURABLE_DB_FILE="${PEER_RUN_DIR:-${TMPDIR:-/tmp}/warden-simplejwt-peer}/peer-$DURABLE_PORT.sqlite3"
    DURABLE_URL="$(PEER_SQLITE_MODE="${BENCH_DURABLE_PEER_MODE:-wal-full}" "$ROOT/interop/peer.sh" start "$DURABLE_PORT")"
    case " $SCENARIOS " in *" logout "*)
      peer_mint "$DURABLE_DB_FILE" $((per_round_p * ROUNDS)) "$TMP/d-tokens.txt"
      split -l "$per_round_p" -d -a 2 "$TMP/d-tokens.txt" "$TMP/d-tokens."
    esac
    log "SimpleJWT with durable commits (${BENCH_DURABLE_PEER_MODE:-wal-full}) at $DURABLE_URL"
    echo "simplejwt-durable: PEER_SQLITE_MODE=${BENCH_DURABLE_PEER_MODE:-wal-full}" >>"$OUT/machine.txt"
  fi

  if wanted simplejwt; then
  {
    echo "hasher cost (one verification, one thread, servers up but idle):"
    echo "  Warden: $("$BENCH" hash-cost --iterations 10)"
    echo "  SimpleJWT (Django): $(peer_hash_cost | grep -v 'objects imported' | grep .)"
  } | tee "$OUT/hashers.txt" >&2
  fi
  # The disk's ceilings for durable writes, in the same run as the refresh figures.
  "$BENCH" ceilings --dir "$TMP/ceilings" --seconds 3 | tee "$OUT/ceilings.txt" >&2

  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="warden simplejwt simplejwt-durable"; else order="simplejwt-durable simplejwt warden"; fi
    log "round $r/$ROUNDS (order: $order)"
    for s in $SCENARIOS; do
      for who in $order; do
        local idx; idx="$(printf '%02d' $((r - 1)))"
        if [ "$who" = simplejwt-durable ]; then
          [ -n "$DURABLE_PORT" ] || continue
          case "$s" in
            refresh) load simplejwt-durable "$DURABLE_URL" "$s" "$r" --out "$results" ;;
            logout) load simplejwt-durable "$DURABLE_URL" "$s" "$r" --tokens "$TMP/d-tokens.$idx" --out "$results" ;;
            *) ;; # reads do not commit: the same as simplejwt
          esac
        elif ! wanted "$who"; then
          continue
        elif [ "$who" = warden ]; then
          case "$s" in
            logout) load warden "$WARDEN_URL" "$s" "$r" --tokens "$TMP/w-tokens.$idx" --server-pid "$WARDEN_PID" --out "$results" ;;
            *) load warden "$WARDEN_URL" "$s" "$r" --server-pid "$WARDEN_PID" --out "$results" ;;
          esac
        else
          case "$s" in
            logout) load simplejwt "$PEER_URL" "$s" "$r" --tokens "$TMP/p-tokens.$idx" --out "$results" ;;
            *) load simplejwt "$PEER_URL" "$s" "$r" --out "$results" ;;
          esac
        fi
      done
    done
  done
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2
  stop_warden
  if [ -n "$PEER_PORT" ]; then "$ROOT/interop/peer.sh" stop "$PEER_PORT" >/dev/null 2>&1 || true; fi
  PEER_PORT=""
  if [ -n "$DURABLE_PORT" ]; then
    "$ROOT/interop/peer.sh" stop "$DURABLE_PORT" >/dev/null 2>&1 || true
    DURABLE_PORT=""
  fi
  echo
  "$BENCH" report "$results" --markdown "$OUT/report.md"
  if [ "${BENCH_PUBLISH:-1}" = 1 ]; then
    cp "$results" "$PLOTS/http-results.jsonl"
    cp "$OUT/report.md" "$PLOTS/http-report.md"
    if [ -f "$OUT/hashers.txt" ]; then cp "$OUT/hashers.txt" "$PLOTS/hashers.txt"; fi
    cp "$OUT/ceilings.txt" "$PLOTS/ceilings.txt"
    cp "$OUT/machine.txt" "$PLOTS/http-machine.txt"
  fi
}

# ------------------------------------------------------------- scaling ----
# For each size N: a fresh database with N live sessions and N revoked ones
# (so the revocation set holds N sessions), then refresh chains and
# authenticated GETs against it, and the server's memory.
scaling() {
  local results="$OUT/scaling.jsonl" n dir rss
  : >"$results"
  for n in $SIZES; do
    dir="$TMP/scale-$n"
    warden_setup "$dir"
    log "size $n: seeding $n live + $n revoked sessions"
    "$BENCH" seed --config "$dir/warden.toml" --database "$dir/warden.db" --live "$n" --revoked "$n" --threads 64
    start_warden "$dir"
    rss="$("$BENCH" rss "$WARDEN_PID")"
    log "size $n: warden up, RSS after start ${rss%% *} KiB"
    printf '{"size":%s,"phase":"start","rss_kib":%s}\n' "$n" "${rss%% *}" >>"$OUT/scaling-rss.jsonl"
    load warden "$WARDEN_URL" refresh 1 --size "$n" --server-pid "$WARDEN_PID" --out "$results"
    load warden "$WARDEN_URL" whoami 1 --size "$n" --server-pid "$WARDEN_PID" --out "$results"
    stop_warden
    rm -rf "$dir"
  done
  cp "$results" "$PLOTS/scaling-results.jsonl"
  cp "$OUT/scaling-rss.jsonl" "$PLOTS/scaling-rss.jsonl"
}

plots() {
  "$BENCH" plot --criterion "$ROOT/target/criterion" --data "$PLOTS" --out "$PLOTS"
}

mkdir -p "$PLOTS"
build
machine
case "$MODE" in
  compare) compare ;;
  scaling) scaling; plots ;;
  all) compare; scaling; plots ;;
  plots) plots ;;
esac
log "results in $OUT"
