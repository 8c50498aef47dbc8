#!/usr/bin/env bash
# Run a real Django + DRF + djangorestframework-simplejwt server on loopback,
# the peer of Warden's interop tests and HTTP benchmarks.
#
#   interop/peer.sh start PORT   venv (if needed), fresh DB, users, gunicorn on
#                                127.0.0.1:PORT; returns once api/hello/ answers.
#                                Prints the base URL on stdout, the rest on stderr.
#   interop/peer.sh stop [PORT]  stop that peer, or every peer started here
#   interop/peer.sh status [PORT]
#   interop/peer.sh setup        only create/refresh the venv
#
# Idempotent: `start` on a port whose peer is up with the same settings
# reuses it; with other settings it restarts it. `stop` of nothing is fine.
# Works as root, with no stdin. Settings (env): see interop/README.md.
#
# Exit codes: 0 ok · 1 `status`: not running · 2 usage · 3 python/venv/pip
# failed · 4 migrate or user setup failed · 5 port used by another program ·
# 6 server died or did not answer in time · 7 could not stop the server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REQ="$ROOT/interop/requirements.txt"
APP_DIR="$HERE/simplejwt_peer"
VENV="${WARDEN_VENV:-$ROOT/.venv}"
RUN_DIR="${PEER_RUN_DIR:-${TMPDIR:-/tmp}/warden-simplejwt-peer}"
START_TIMEOUT="${PEER_START_TIMEOUT:-30}"
STOP_TIMEOUT="${PEER_STOP_TIMEOUT:-10}"
DB_GIVEN="${PEER_DB:-}"   # default: one file per port in RUN_DIR, removed on stop

log() { printf '[peer] %s\n' "$*" >&2; }
die() { local code="$1"; shift; log "ERROR: $*"; exit "$code"; }
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
  exit 2
}

pidfile() { printf '%s/peer-%s.pid' "$RUN_DIR" "$1"; }
logfile() { printf '%s/peer-%s.log' "$RUN_DIR" "$1"; }
fpfile() { printf '%s/peer-%s.settings' "$RUN_DIR" "$1"; }
dbfile() { printf '%s' "${DB_GIVEN:-$RUN_DIR/peer-$1.sqlite3}"; }

# ------------------------------------------------------------------ venv ----
# Same stamp and hash as scripts/install-deps.sh, so either may fill the venv.
ensure_venv() {
  local py want_hash stamp="$VENV/.warden-requirements.sha256"
  py="$(command -v python3.11 || command -v python3 || true)"
  [ -n "$py" ] || die 3 "python3 not found"
  want_hash="$( { sha256sum "$REQ"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_hash" ] \
     && "$VENV/bin/python" -c 'pass' 2>/dev/null; then
    return 0
  fi
  # One installer at a time per venv (parallel tests may all call start).
  local lock
  lock="${TMPDIR:-/tmp}/warden-venv-$(printf '%s' "$VENV" | sha256sum | cut -c1-16).lock"
  exec 9>"$lock"
  flock -w 600 9 || die 3 "timed out waiting for another venv install ($lock)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_hash" ] && "$VENV/bin/python" -c 'pass' 2>/dev/null; then
    exec 9>&-; return 0
  fi
  log "installing interop/requirements.txt into $VENV"
  rm -f "$stamp"
  if ! "$VENV/bin/python" -c 'pass' 2>/dev/null; then
    rm -rf "$VENV"
    "$py" -m venv "$VENV" || die 3 "python3 -m venv $VENV failed (Debian: apt-get install python3-venv)"
  fi
  PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$VENV/bin/python" -m pip install -q --retries 3 --timeout 60 -r "$REQ" </dev/null \
    || die 3 "pip install -r $REQ failed"
  printf '%s\n' "$want_hash" >"$stamp"
  exec 9>&-
}

# --------------------------------------------------------------- process ----
# Prints the pid of the peer on PORT if it is alive and is our gunicorn.
live_pid() {
  local f pid
  f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(head -n1 "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'gunicorn.*peer\.wsgi' || return 1
  printf '%s\n' "$pid"
}

# Alive and not a zombie (an unreaped zombie still answers kill -0).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ]
}

# Any live (non-zombie) process left in process group $1?
group_alive() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(awk '{print $5}' "$p/stat" 2>/dev/null)" = "$1" ] || continue
    alive "${p#/proc/}" && return 0
  done
  return 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

hello_ok() {
  local url="http://127.0.0.1:$1/api/hello/" body
  if command -v curl >/dev/null 2>&1; then
    body="$(curl -fsS --max-time 2 "$url" 2>/dev/null)" || return 1
  else
    body="$("$VENV/bin/python" -c 'import sys,urllib.request as u; print(u.urlopen(sys.argv[1], timeout=2).read().decode())' "$url" 2>/dev/null)" || return 1
  fi
  [[ "$body" == *'"hello"'*'"world"'* ]]
}

# Everything that changes what the server does; a running peer is reused only if equal.
fingerprint() {
  {
    env | grep -E '^(PEER_|WARDEN_VENV=)' | grep -vE '^PEER_(START|STOP)_TIMEOUT=' | LC_ALL=C sort
    cat "$VENV/.warden-requirements.sha256" 2>/dev/null || true
    find "$APP_DIR" -name '*.py' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

stop_one() {
  local port="$1" pid pgid waited=0 lf
  lf="$(logfile "$port")"
  if pid="$(live_pid "$port")"; then
    pgid="$(awk '{print $5}' "/proc/$pid/stat" 2>/dev/null || true)"
    log "stopping peer on port $port (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
      sleep 0.1; waited=$((waited + 1))
    done
    # Our gunicorn leads its own process group (setsid): sweep it, workers included.
    if [ "$pgid" = "$pid" ]; then
      if group_alive "$pgid"; then
        log "peer on port $port did not stop in ${STOP_TIMEOUT}s; KILL"
        kill -KILL -- "-$pgid" 2>/dev/null || true
        sleep 0.3
      fi
      group_alive "$pgid" && die 7 "processes of group $pgid survived KILL"
    else
      if alive "$pid"; then
        log "peer on port $port did not stop in ${STOP_TIMEOUT}s; KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.3
      fi
      alive "$pid" && die 7 "pid $pid survived KILL"
    fi
  fi
  rm -f "$(pidfile "$port")" "$(fpfile "$port")"
  if [ "${PEER_KEEP_DB:-0}" != 1 ] && [ -z "$DB_GIVEN" ]; then
    local db; db="$(dbfile "$port")"
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  fi
  [ -f "$lf" ] && log "peer on port $port stopped; log kept at $lf"
  return 0
}

# ----------------------------------------------------------------- start ----
cmd_start() {
  local port="${1:-}"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then usage; fi
  [ -f "$REQ" ] || die 3 "$REQ not found"
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/peer-$port.lock"
  flock -w 120 8 || die 6 "timed out waiting for another start/stop of port $port"

  ensure_venv
  local py="$VENV/bin/python" gunicorn="$VENV/bin/gunicorn"
  local lf fp pid db
  lf="$(logfile "$port")"
  fp="$(fingerprint)"
  if pid="$(live_pid "$port")"; then
    if [ "$(cat "$(fpfile "$port")" 2>/dev/null)" = "$fp" ] && hello_ok "$port"; then
      log "peer already running on port $port (pid $pid); log: $lf"
      printf 'http://127.0.0.1:%s/\n' "$port"
      return 0
    fi
    log "peer on port $port runs other settings; restarting it"
    stop_one "$port"
  fi
  port_busy "$port" && die 5 "127.0.0.1:$port is in use by another program"

  db="$(dbfile "$port")"
  export PEER_DB="$db"
  if [ "${PEER_KEEP_DB:-0}" != 1 ]; then
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  fi
  : >"$lf"
  log "log: $lf"
  (
    cd "$APP_DIR"
    "$py" manage.py migrate --noinput -v 0 &&
    "$py" manage.py peer_users
  ) </dev/null >>"$lf" 2>&1 || { tail -n 30 "$lf" >&2; die 4 "migrate/peer_users failed; log: $lf"; }

  local access=(--access-logfile -)
  [ "${PEER_ACCESS_LOG:-1}" = 0 ] && access=()
  local workers="${PEER_WORKERS:-2}" threads="${PEER_THREADS:-1}"
  local worker_opts=(--workers "$workers")
  if [ "$threads" -gt 1 ]; then worker_opts+=(--worker-class gthread --threads "$threads"); fi
  local setsid=()
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  # Non-interactive bash: the background child is no group leader, so setsid
  # execs in place and $! is gunicorn's master, leading its own group.
  "${setsid[@]}" "$gunicorn" peer.wsgi:application \
    --chdir "$APP_DIR" --bind "127.0.0.1:$port" "${worker_opts[@]}" \
    --timeout 60 --graceful-timeout 5 "${access[@]}" --error-logfile - \
    </dev/null >>"$lf" 2>&1 8>&- 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$(pidfile "$port")"

  local deadline=$((SECONDS + START_TIMEOUT))
  until hello_ok "$port"; do
    if ! alive "$pid"; then
      tail -n 30 "$lf" >&2
      rm -f "$(pidfile "$port")"
      die 6 "gunicorn exited during start; log: $lf"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$lf" >&2
      stop_one "$port" || true
      die 6 "api/hello/ did not answer within ${START_TIMEOUT}s; log: $lf"
    fi
    sleep 0.2
  done
  printf '%s\n' "$fp" >"$(fpfile "$port")"
  log "SimpleJWT peer up at http://127.0.0.1:$port/ (pid $pid, $workers workers, db $db); log: $lf"
  printf 'http://127.0.0.1:%s/\n' "$port"
}

ports_with_pidfiles() {
  local f
  shopt -s nullglob
  for f in "$RUN_DIR"/peer-*.pid; do
    f="${f##*/peer-}"; printf '%s\n' "${f%.pid}"
  done
}

cmd_stop() {
  local port rc=0
  if [ -n "${1:-}" ]; then
    [[ "$1" =~ ^[0-9]+$ ]] || usage
    mkdir -p "$RUN_DIR"
    exec 8>"$RUN_DIR/peer-$1.lock"; flock -w 120 8 || true
    stop_one "$1" || rc=$?
    return "$rc"
  fi
  local any=0
  for port in $(ports_with_pidfiles); do
    any=1
    ( stop_one "$port" ) || rc=$?
  done
  [ "$any" = 1 ] || log "no peer running (run dir $RUN_DIR)"
  return "$rc"
}

cmd_status() {
  local port pid any=0
  local ports
  if [ -n "${1:-}" ]; then ports="$1"; else ports="$(ports_with_pidfiles)"; fi
  for port in $ports; do
    if pid="$(live_pid "$port")"; then
      any=1
      echo "port $port: running (pid $pid), log $(logfile "$port")"
    else
      echo "port $port: not running"
    fi
  done
  [ "$any" = 1 ]
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  setup) ensure_venv; log "venv ready: $VENV" ;;
  *) usage ;;
esac
