#!/usr/bin/env bash
# Warden's whole test suite, exactly as CI runs it (.ci/run calls this).
#
#   ./scripts/test.sh                 from any directory
#
# Installs what it needs (scripts/install-deps.sh), then: rustfmt check,
# clippy -D warnings, dependency-direction check, and the tests inside one
# private headless desktop session (D-Bus + unlocked gnome-keyring + Xvfb,
# scripts/with-desktop-session.sh).
#
# Local knobs (env):
#   WARDEN_TEST_FILTER=substr   passed to `cargo test` as its test-name filter
#   WARDEN_TEST_SKIP="fmt clippy"  skip steps by name (deps fmt clippy deps-direction
#                               postgres test-build test); never set this in CI
#   WARDEN_TEST_CMD='cmd'       run this (bash -c) inside the desktop session
#                               instead of cargo test; for testing the harness
#   WARDEN_TEST_FAIL_FAST=1     stop at the first failing step
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
exec </dev/null                      # nothing here reads stdin; same as CI
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# A clean clone builds once: incremental caches only cost disk and time there.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-$([ -t 1 ] && echo auto || echo never)}"

STEPS=()
RESULTS=()
TIMES=()
FAILED=()

skipped() {
  case " ${WARDEN_TEST_SKIP:-} " in *" $1 "*) return 0 ;; esac
  return 1
}

# step NAME CMD [ARG...]
step() {
  local name="$1"; shift
  if skipped "$name"; then
    printf '\n==> %s: skipped (WARDEN_TEST_SKIP)\n' "$name"
    STEPS+=("$name"); RESULTS+=("SKIP"); TIMES+=("-")
    return 0
  fi
  if [ "${WARDEN_TEST_FAIL_FAST:-0}" = 1 ] && [ "${#FAILED[@]}" -gt 0 ]; then
    STEPS+=("$name"); RESULTS+=("NOT RUN"); TIMES+=("-")
    return 0
  fi
  printf '\n==> %s: %s\n' "$name" "$*"
  local t0=$SECONDS rc
  "$@"
  rc=$?
  STEPS+=("$name"); TIMES+=("$((SECONDS - t0))s")
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("ok")
  else
    RESULTS+=("FAILED (exit $rc)"); FAILED+=("$name")
  fi
  return 0
}

summary() {
  local i
  printf '\n==> summary (%ss total)\n' "$SECONDS"
  for i in "${!STEPS[@]}"; do
    printf '  %-16s %-18s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
  done
  if [ "${#FAILED[@]}" -eq 0 ]; then
    echo "test.sh: all steps OK"
  else
    echo "test.sh: FAILED steps: ${FAILED[*]}"
  fi
}

# (d) warden-auth, warden-client and warden-desktop (the app's core) must
# never depend on tauri.
check_deps_direction() {
  if [ ! -f Cargo.lock ] || ! grep -qx 'name = "tauri"' Cargo.lock; then
    echo "tauri is not in Cargo.lock: nothing to check"
    return 0
  fi
  local crate out err rc bad=0
  err="$(mktemp)"
  for crate in warden-auth warden-client warden-desktop; do
    # Every target and feature: a Windows-only or optional tauri counts too.
    out="$(cargo tree -i tauri -p "$crate" --all-features --target all \
             -e normal,build,dev 2>"$err")"
    rc=$?
    if [ "$rc" -eq 0 ]; then
      if [ -n "$out" ]; then
        echo "ERROR: $crate depends on tauri (must stay UI-free):"; printf '%s\n' "$out"; bad=1
      else
        echo "$crate: no tauri"
      fi
    elif grep -q "specification \`tauri\` did not match" "$err"; then
      echo "$crate: no tauri"
    elif grep -q "specification \`$crate\` did not match" "$err"; then
      echo "$crate: not in the workspace (yet); skipped"
    else
      echo "ERROR: cargo tree failed for $crate:"; cat "$err"; bad=1
    fi
  done
  rm -f "$err"
  return "$bad"
}

DESKTOP=(bash "$ROOT/scripts/with-desktop-session.sh")

# (a) system packages, tauri-driver, Python venv (each only when needed)
step deps bash "$ROOT/scripts/install-deps.sh"
if [ "${#FAILED[@]}" -gt 0 ]; then summary; exit 1; fi

# The interop peer's venv, when there is one.
venv="${WARDEN_VENV:-$ROOT/.venv}"
if [ -f interop/requirements.txt ] && [ -x "$venv/bin/python" ]; then
  export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH"
fi

# (b) formatting, (c) lints, (d) dependency direction
step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step deps-direction check_deps_direction

# PostgreSQL on loopback for the PostgreSQL store's tests and the multi-node
# tests (scripts/pg.sh; they read WARDEN_TEST_PG_URL); stopped when this script exits.
start_postgres() {
  local url
  url="$(bash "$ROOT/scripts/pg.sh" start)" || return 1
  export WARDEN_TEST_PG_URL="$url"
  trap 'bash "$ROOT/scripts/pg.sh" stop >/dev/null 2>&1 || true' EXIT
  echo "WARDEN_TEST_PG_URL=$WARDEN_TEST_PG_URL"
}
if [ -z "${WARDEN_TEST_CMD:-}" ] && ! skipped test; then
  step postgres start_postgres
fi

# (e) tests, inside ONE private desktop session (keyring + display)
if [ -n "${WARDEN_TEST_CMD:-}" ]; then
  step test "${DESKTOP[@]}" bash -c "$WARDEN_TEST_CMD"
else
  filter=()
  [ -n "${WARDEN_TEST_FILTER:-}" ] && filter=("$WARDEN_TEST_FILTER")
  # Build first, outside the session: a compile error is then reported as
  # such, and the daemons only live while tests run.
  step test-build cargo test --workspace --exclude warden-e2e --no-run
  if [[ " ${FAILED[*]} " == *" test-build "* ]]; then
    STEPS+=(test); RESULTS+=("NOT RUN"); TIMES+=("-")
  else
    # --no-fail-fast: report every failing test binary, not just the first.
    # The window's end-to-end tests run in their own step below, for real.
    step test "${DESKTOP[@]}" cargo test --workspace --exclude warden-e2e --no-fail-fast "${filter[@]}"
  fi
fi

# ---- LEAD: more test steps go here, e.g. --------------------------------
# Hostile conditions (HOSTILE.md): a short fuzz run of every cargo-fuzz target
# (nightly; installs cargo-fuzz if missing) and schemathesis against a live
# `warden serve` driven by its OpenAPI document (own pinned venv).
step fuzz-short bash "$ROOT/scripts/fuzz.sh" short 5
step schemathesis bash "$ROOT/scripts/schemathesis.sh" 60
# (GUI/WebDriver tests: build the app binary first; run them one at a time.)
step ui-unit node --test ui/
# The window's modules against the IPC types rendered from Rust (ui/js/wire.d.ts;
# the test step checked that file is current).
step ui-types bash "$ROOT/scripts/typecheck-ui.sh"
if [ -z "${WARDEN_TEST_CMD:-}" ]; then
  # The e2e tests drive the app and add users with the CLI (warden user add).
  step app-build cargo build -p warden-app -p warden-cli
  if [[ " ${FAILED[*]} " == *" app-build "* ]]; then
    STEPS+=(e2e); RESULTS+=("NOT RUN"); TIMES+=("-")
  else
    # WARDEN_E2E=1 arms the tests (a plain local `cargo test --workspace` skips them
    # rather than opening windows; the workspace step above excludes them).
    step e2e "${DESKTOP[@]}" env WARDEN_E2E=1 cargo test -p warden-e2e -- --test-threads=1
  fi
fi
# --------------------------------------------------------------------------

summary
[ "${#FAILED[@]}" -eq 0 ]
