#!/usr/bin/env bash
# shellcheck disable=SC2317  # false positive: code after the conditional re-exec below is reachable
# Run a command inside one private, headless desktop session:
#   own D-Bus session bus -> unlocked gnome-keyring (Secret Service) -> Xvfb
# and tear all of it down afterwards (also on INT/TERM/HUP), leaving nothing
# running. Exit status is the command's.
#
#   scripts/with-desktop-session.sh CMD [ARG...]
#
# Inside CMD: DBUS_SESSION_BUS_ADDRESS, DISPLAY, a private XDG_RUNTIME_DIR
# (0700) and fresh XDG_DATA_HOME/XDG_CONFIG_HOME/XDG_CACHE_HOME/XDG_STATE_HOME
# (so the keyring lives in a throw-away dir, independent of HOME), and
# WARDEN_TEST_DESKTOP=1. HOME is left alone (cargo needs it).
# CMD runs in its own process group, so it must not need the terminal's stdin
# (it is not the terminal's foreground group).
#
# Recipe: /work/shared/recipes/DESKTOP-SESSION.md and KEYRING.md.
# Deviation from the recipe: dbus-daemon runs with --nofork and
# gnome-keyring-daemon with --foreground, as children of this script, so that
# this script reaps them. (PID 1 on our machines does not reap orphans: a
# --fork'ed daemon would stay behind as a <defunct> entry after every run.)
#
# Tunables (env): WARDEN_DESKTOP_GRACE   seconds between TERM and KILL for CMD (5)
#                 WARDEN_DESKTOP_VERBOSE=1  log each step
#                 WARDEN_DESKTOP_KEYCTL=0   do not wrap CMD in `keyctl session -`
set -uo pipefail

# Become a "child subreaper" (prctl PR_SET_CHILD_SUBREAPER, kept across exec)
# when python3 is at hand, so processes orphaned inside the session (a killed
# shell's children, double-forked helpers, WebKit helpers) are re-parented to
# this script, which reaps them, instead of to PID 1, which on our machines
# never reaps (they would pile up as <defunct>). Optional: without it,
# teardown still finds and ends everything.
if [ -z "${_WARDEN_DESKTOP_REAPER:-}" ]; then
  export _WARDEN_DESKTOP_REAPER=1
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      exec "$py" -c 'import ctypes, os, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
os.execv(sys.argv[1], sys.argv[1:])' "$BASH" "$0" "$@"
    fi
  done
fi
unset _WARDEN_DESKTOP_REAPER

ME="with-desktop-session"
LOGFD=2
log() { printf '[%s] %s\n' "$ME" "$*" >&"$LOGFD"; }
vlog() { [ "${WARDEN_DESKTOP_VERBOSE:-0}" = 1 ] && log "$@"; return 0; }

if [ "$#" -lt 1 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 64
fi

for tool in dbus-daemon dbus-send gnome-keyring-daemon Xvfb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "missing '$tool': run scripts/install-deps.sh first"
    exit 69
  fi
done

if ! command -v -- "$1" >/dev/null 2>&1; then
  log "command not found: $1"
  exit 127
fi

GRACE="${WARDEN_DESKTOP_GRACE:-5}"

# Never reuse (or later tear down) the caller's real session.
unset DBUS_SESSION_BUS_ADDRESS DBUS_SESSION_BUS_PID DBUS_SESSION_BUS_WINDOWID \
      DISPLAY WAYLAND_DISPLAY XAUTHORITY GNOME_KEYRING_CONTROL GNOME_KEYRING_PID \
      WARDEN_DESKTOP_SESSION

# Job control: every background job gets its own process group. The daemons
# are then out of reach of a terminal's Ctrl-C (this script stops them in
# order), and CMD's whole tree can be signalled as one group.
set -m

SESSION_DIR=""
BUS_PID=""
KEYRING_PID=""
XVFB_PID=""
CMD_PID=""
RC=0
CLEANED=0

# ------------------------------------------------------------------ helpers ----

# alive PID: exists and is not a zombie.
alive() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s="${s##*) }"
  [ "${s%% *}" != Z ]
}

# Live (non-zombie) members of process group $1.
group_pids() {
  local f s pid rest state pgrp
  for f in /proc/[0-9]*/stat; do
    { read -r s <"$f"; } 2>/dev/null || continue
    pid="${s%% *}"
    rest="${s##*) }"            # "S ppid pgrp ..."
    state="${rest%% *}"; rest="${rest#* }"
    rest="${rest#* }"           # drop ppid
    pgrp="${rest%% *}"
    [ "$pgrp" = "$1" ] && [ "$state" != Z ] && printf '%s\n' "$pid"
  done
  return 0
}

ppid_of() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s="${s##*) }"; s="${s#* }"
  printf '%s\n' "${s%% *}"
}

# PIDs of every client connected to the private bus (except the bus itself).
bus_pids() {
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ -n "$BUS_PID" ] && alive "$BUS_PID" || return 0
  local names name out
  names="$(dbus-send --session --print-reply=literal --reply-timeout=2000 \
            --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.ListNames 2>/dev/null)" || return 0
  for name in $names; do
    case "$name" in :*) ;; *) continue ;; esac
    out="$(dbus-send --session --print-reply=literal --reply-timeout=2000 \
            --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.GetConnectionUnixProcessID "string:$name" 2>/dev/null)" || continue
    out="${out##* }"
    [[ "$out" =~ ^[0-9]+$ ]] && printf '%s\n' "$out"
  done
  return 0
}

# PIDs of processes started anywhere inside this session (they inherit the
# marker variable), e.g. helpers the bus activated or that left CMD's group.
marker_pids() {
  [ -n "$SESSION_DIR" ] || return 0
  local out f
  # grep itself must not carry the marker, or it would list itself.
  out="$(env -u WARDEN_DESKTOP_SESSION grep -lzxF "WARDEN_DESKTOP_SESSION=$SESSION_DIR" \
          /proc/[0-9]*/environ 2>/dev/null)"
  for f in $out; do
    f="${f#/proc/}"; printf '%s\n' "${f%/environ}"
  done
  return 0
}

# Wait up to $1 seconds until none of the remaining args is alive.
wait_gone() {
  local secs="$1" p any i
  shift
  for ((i = 0; i < secs * 10; i++)); do
    any=0
    for p in "$@"; do alive "$p" && { any=1; break; }; done
    [ "$any" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# TERM, wait up to $1 s, KILL; then reap it if it is our child.
stop_pid() {
  local secs="$1" pid="$2" name="$3"
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    vlog "stopping $name ($pid)"
    kill -TERM "$pid" 2>/dev/null
    if ! wait_gone "$secs" "$pid"; then
      log "$name ($pid) ignored TERM; killing"
      kill -KILL "$pid" 2>/dev/null
      wait_gone 2 "$pid"
    fi
  fi
  wait "$pid" 2>/dev/null
  return 0
}

# Stop a set of unrelated PIDs: children first (so their parents can reap
# them), then the rest; TERM, grace, KILL.
stop_set() {
  local secs="$1"; shift
  [ "$#" -gt 0 ] || return 0
  vlog "stopping session processes: $*"
  local p pp leaves=() rest=() left=()
  declare -A inset=()
  for p in "$@"; do inset[$p]=1; done
  for p in "$@"; do
    pp="$(ppid_of "$p")" || continue
    if [ -n "${inset[$pp]:-}" ]; then leaves+=("$p"); else rest+=("$p"); fi
  done
  if [ "${#leaves[@]}" -gt 0 ]; then
    kill -TERM "${leaves[@]}" 2>/dev/null
    wait_gone 1 "${leaves[@]}"
  fi
  kill -TERM "$@" 2>/dev/null
  if ! wait_gone "$secs" "$@"; then
    for p in "$@"; do alive "$p" && left+=("$p"); done
    if [ "${#left[@]}" -gt 0 ]; then
      log "killing leftover session processes: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null
      wait_gone 2 "${left[@]}"
    fi
  fi
  for p in "$@"; do wait "$p" 2>/dev/null; done
  return 0
}

# Everything still alive in this session, except this script and the two
# daemons that are stopped last.
stragglers() {
  local p
  declare -A seen=()
  for p in $(bus_pids) $(marker_pids) ${KEYRING_PID:+"$KEYRING_PID"}; do
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    case "$p" in "$$" | "$BASHPID" | "$BUS_PID" | "$XVFB_PID") continue ;; esac
    alive "$p" && printf '%s\n' "$p"
  done
  return 0
}

cleanup() {
  [ "$CLEANED" = 1 ] && return 0
  CLEANED=1
  trap '' INT TERM HUP              # let teardown finish
  # Keep our log lines; drop bash's "[1]+ Terminated ..." job notices.
  exec 9>&2 2>/dev/null
  LOGFD=9
  local p i
  # 1. CMD's process group: TERM, grace, KILL.
  if [ -n "$CMD_PID" ]; then
    if [ -n "$(group_pids "$CMD_PID")" ]; then
      vlog "stopping command group $CMD_PID"
      kill -TERM -- "-$CMD_PID" 2>/dev/null
      for ((i = 0; i < GRACE * 10; i++)); do
        [ -z "$(group_pids "$CMD_PID")" ] && break
        sleep 0.1
      done
      if [ -n "$(group_pids "$CMD_PID")" ]; then
        log "command group $CMD_PID still running after ${GRACE}s; killing"
        kill -KILL -- "-$CMD_PID" 2>/dev/null
        sleep 0.2
      fi
    fi
    wait "$CMD_PID" 2>/dev/null
  fi
  # 2. Everything still on the private bus or started inside the session
  #    (keyring daemon, accessibility bus, helpers that left CMD's group).
  # shellcheck disable=SC2046
  stop_set 3 $(stragglers)
  # 3. Xvfb, 4. the bus.
  stop_pid 3 "$XVFB_PID" Xvfb
  stop_pid 3 "$BUS_PID" dbus-daemon
  # Last sweep: anything that appeared during teardown.
  local rest=()
  for p in $(marker_pids); do
    case "$p" in "$$" | "$BASHPID") continue ;; esac
    alive "$p" && rest+=("$p")
  done
  if [ "${#rest[@]}" -gt 0 ]; then
    log "killing late session processes: ${rest[*]}"
    kill -KILL "${rest[@]}" 2>/dev/null
  fi
  if [ -n "$SESSION_DIR" ] && [ -d "$SESSION_DIR" ]; then
    rm -rf -- "$SESSION_DIR"
  fi
  return 0
}

on_signal() {
  log "got SIG$1; tearing down"
  case "$1" in INT) RC=130 ;; TERM) RC=143 ;; HUP) RC=129 ;; esac
  exit "$RC"
}

on_exit() {
  local rc=$?
  [ "$RC" = 0 ] && RC=$rc
  cleanup
  exit "$RC"
}

fail() {
  log "ERROR: $*"
  local f
  for f in bus.log keyring.log xvfb.log; do
    if [ -s "$SESSION_DIR/$f" ]; then
      log "--- $f"; sed 's/^/    /' "$SESSION_DIR/$f" >&2
    fi
  done
  RC=70
  exit 70
}

trap on_exit EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

# Wait (bounded, $2 s) until file $1 holds a complete first line.
wait_line() {
  local file="$1" secs="$2" pid="$3" i line
  for ((i = 0; i < secs * 20; i++)); do
    if [ -s "$file" ] && [ "$(tail -c1 "$file" | od -An -c | tr -d ' ')" = '\n' ]; then
      read -r line <"$file"; printf '%s\n' "$line"; return 0
    fi
    alive "$pid" || return 1
    sleep 0.05
  done
  return 1
}

# ------------------------------------------------------------------ session ----
# Sockets live under here (unix socket paths max out at 107 bytes): keep it short.
tmp="${TMPDIR:-/tmp}"
[ "${#tmp}" -le 40 ] || tmp=/tmp
SESSION_DIR="$(mktemp -d "$tmp/warden-desktop.XXXXXXXX")" || { log "mktemp failed"; exit 70; }
chmod 0700 "$SESSION_DIR"
for d in runtime data config cache state; do mkdir -m 0700 "$SESSION_DIR/$d"; done
export XDG_RUNTIME_DIR="$SESSION_DIR/runtime"
export XDG_DATA_HOME="$SESSION_DIR/data"
export XDG_CONFIG_HOME="$SESSION_DIR/config"
export XDG_CACHE_HOME="$SESSION_DIR/cache"
export XDG_STATE_HOME="$SESSION_DIR/state"
export WARDEN_DESKTOP_SESSION="$SESSION_DIR"   # marker: finds our processes at teardown
export WARDEN_TEST_DESKTOP=1

# 1. Private session bus (our child; address and PID via fds 3 and 4).
dbus-daemon --session --nofork --nosyslog \
  --address="unix:path=$XDG_RUNTIME_DIR/bus" \
  --print-address=3 --print-pid=4 \
  3>"$SESSION_DIR/bus.addr" 4>"$SESSION_DIR/bus.pid" \
  </dev/null >/dev/null 2>"$SESSION_DIR/bus.log" &
BUS_PID=$!
addr="$(wait_line "$SESSION_DIR/bus.addr" 10 "$BUS_PID")" || fail "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS="$addr"
vlog "bus $addr (pid $BUS_PID)"

# 2. Unlocked keyring. A fresh XDG_DATA_HOME matters: --unlock "succeeds" even
#    with a wrong password for an existing keyring.
pass="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf %s "$pass" | gnome-keyring-daemon --foreground --unlock --components=secrets \
  >"$SESSION_DIR/keyring.log" 2>&1 &
KEYRING_PID=$!
unset pass
owned=0
for ((i = 0; i < 100; i++)); do     # up to ~10 s
  if dbus-send --session --print-reply=literal --reply-timeout=1000 \
       --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
     | grep -q 'true'; then
    owned=1; break
  fi
  alive "$KEYRING_PID" || fail "gnome-keyring-daemon exited early"
  sleep 0.1
done
[ "$owned" = 1 ] || fail "org.freedesktop.secrets never appeared on the bus"
vlog "keyring unlocked (pid $KEYRING_PID)"

# 3. Display (after the bus: bus-activated services get no DISPLAY, so a
#    locked keyring fails fast instead of prompting on an invisible screen).
Xvfb -displayfd 5 -screen 0 1280x1024x24 -nolisten tcp \
  5>"$SESSION_DIR/display" </dev/null >"$SESSION_DIR/xvfb.log" 2>&1 &
XVFB_PID=$!
dpy="$(wait_line "$SESSION_DIR/display" 15 "$XVFB_PID")" || fail "Xvfb did not start"
[[ "$dpy" =~ ^[0-9]+$ ]] || fail "Xvfb reported display '$dpy'"
export DISPLAY=":$dpy"
vlog "Xvfb on $DISPLAY (pid $XVFB_PID)"

# 4. The command, in its own process group; under a fresh session keyring
#    (keyctl) when that is available and permitted.
wrap=()
if [ "${WARDEN_DESKTOP_KEYCTL:-1}" != 0 ] && command -v keyctl >/dev/null 2>&1 \
   && keyctl session - true >/dev/null 2>&1; then
  wrap=(keyctl session -)
fi
vlog "running: ${wrap[*]} $*"
"${wrap[@]}" "$@" &
CMD_PID=$!
wait "$CMD_PID"
RC=$?
exit "$RC"
