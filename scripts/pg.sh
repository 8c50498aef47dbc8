#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback, for Warden's tests and benchmarks.
#
#   scripts/pg.sh start    initdb (first time) + start; prints the database URL
#   scripts/pg.sh url      prints the URL (exit 1 when the server is not running)
#   scripts/pg.sh stop     stops the server (the data directory stays)
#   scripts/pg.sh destroy  stops the server and removes its data directory
#
# Idempotent: `start` on a running server only prints the URL. The cluster
# lives in $WARDEN_PG_DIR (default /tmp/warden-pg-$UID), listens on 127.0.0.1
# only, on $WARDEN_PG_PORT (default 54329), and trusts local connections: it is
# for tests on this machine, never for data anyone keeps. PostgreSQL refuses to
# run as root, so as root the server runs as the `postgres` user (Debian's
# package creates it). The binaries come from Debian's `postgresql` package
# (scripts/install-deps.sh installs it).
set -euo pipefail

PORT="${WARDEN_PG_PORT:-54329}"
DIR="${WARDEN_PG_DIR:-${TMPDIR:-/tmp}/warden-pg-$(id -u)}"
DB="${WARDEN_PG_DB:-warden}"
URL="postgres://postgres@127.0.0.1:$PORT/$DB"

log() { printf '[pg.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bindir() {
  local d
  if [ -n "${WARDEN_PG_BIN:-}" ]; then printf '%s\n' "$WARDEN_PG_BIN"; return 0; fi
  # The newest installed major version.
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || die "PostgreSQL is not installed (apt-get install postgresql, or run scripts/install-deps.sh)"
  printf '%s\n' "$d"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  local bin
  bin="$(bindir)"
  [ -f "$DIR/data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
  local bin
  bin="$(bindir)"
  # One start at a time: test threads that each find no server would all run
  # pg_ctl, and all but the first fail ("could not start server"). The
  # server must not inherit the lock (9>&- below), or it holds it for good.
  exec 9>"$DIR.lock"
  flock 9
  if running; then
    printf '%s\n' "$URL"
    return 0
  fi
  mkdir -p "$DIR"
  chmod 0700 "$DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no \`postgres\` user to run the server as (install Debian's postgresql package)"
    chown postgres: "$DIR"
  fi
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initdb in $DIR/data"
    as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  log "starting on 127.0.0.1:$PORT"
  # fsync stays on: the tests check durability, and commits must mean it.
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=400 -c shared_buffers=128MB" \
    start >/dev/null 9>&- || { tail -n 30 "$DIR/server.log" >&2; die "the server did not start"; }
  if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  fi
  printf '%s\n' "$URL"
}

stop() {
  local bin
  bin="$(bindir)"
  if running; then
    log "stopping"
    as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  url)
    running || die "not running (scripts/pg.sh start)"
    printf '%s\n' "$URL"
    ;;
  stop) stop ;;
  destroy)
    stop
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start|url|stop|destroy" >&2
    exit 2
    ;;
esac
