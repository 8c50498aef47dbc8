#!/usr/bin/env bash
# Install everything Warden's build, tests and desktop app need on Debian 12.
# Idempotent: a warm machine makes no network calls (dpkg -s, command -v and a
# stamp file decide). Safe with no stdin (CI). Run as root, or with sudo.
#
#   always            base build packages + headless desktop session
#                     (gnome-keyring, dbus, Xvfb, secret-tool, keyctl)
#   src-tauri/ exists Tauri system packages, webkit2gtk-driver, imagemagick,
#                     trayer + xdotool (the tray menu e2e test),
#                     `cargo install tauri-driver --locked`
#   interop/oidc/setup.sh exists  node-oidc-provider (npm ci) for the OIDC tests
#   interop/requirements.txt exists
#                     Python venv at .venv with those requirements
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo not found"
  SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
fi

# Where the Tauri app lives (src-tauri/ at the root, or inside a crate).
tauri_dir() {
  local d
  for d in "$ROOT/src-tauri" "$ROOT"/crates/*/src-tauri "$ROOT"/apps/*/src-tauri; do
    [ -d "$d" ] && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- Debian ----
BASE_PKGS=(
  build-essential pkg-config libssl-dev ca-certificates git curl
  dbus dbus-x11 gnome-keyring libsecret-tools keyutils xvfb xauth
  postgresql
)
TAURI_PKGS=(
  build-essential curl wget file pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth imagemagick x11-apps webkit2gtk-driver dbus-x11
  # a panel with an XEmbed system tray, and a hand for it, so the e2e tests
  # can click the app's tray icon and picture its menu
  trayer xdotool
)

want=("${BASE_PKGS[@]}")
# npm for the OpenID Connect provider (interop/oidc): Debian's, unless a node
# with its own npm is already there (NodeSource's package conflicts with it).
if [ -d "$ROOT/interop/oidc" ] && ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi
if tauri_dir >/dev/null; then want+=("${TAURI_PKGS[@]}"); fi

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

missing=()
declare -A seen=()
for p in "${want[@]}"; do
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  # Serialise concurrent runs (e.g. run.sh and test.sh at once); apt's own
  # lock timeout covers other apt users (unattended-upgrades).
  exec 9>"${TMPDIR:-/tmp}/warden-install-deps.lock"
  flock -w 900 9 || die "timed out waiting for another install-deps run"
  apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  "${SUDO[@]}" apt-get "${apt_opts[@]}" update -qq
  "${SUDO[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null
  exec 9>&-
else
  log "Debian packages: all ${#seen[@]} present"
fi

# ------------------------------------------------------------------ Rust ----
if command -v cargo >/dev/null 2>&1; then
  need_components=()
  cargo fmt --version >/dev/null 2>&1 || need_components+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || need_components+=(clippy)
  if [ "${#need_components[@]}" -gt 0 ]; then
    command -v rustup >/dev/null 2>&1 || die "missing Rust components (${need_components[*]}) and no rustup"
    log "adding Rust components: ${need_components[*]}"
    rustup component add "${need_components[@]}"
  fi
else
  die "cargo not found on PATH (expected the machine's rustup toolchain)"
fi

if tauri_dir >/dev/null; then
  cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if command -v tauri-driver >/dev/null 2>&1 || [ -x "$cargo_bin/tauri-driver" ]; then
    log "tauri-driver: present"
  else
    log "cargo install tauri-driver --locked (about 1-2 min)"
    cargo install tauri-driver --locked
  fi
fi

# ---------------------------------------------------------------- Python ----
# Same venv, stamp, hash and lock as interop/peer.sh, so either may fill it.
REQ="$ROOT/interop/requirements.txt"
if [ -f "$REQ" ]; then
  VENV="${WARDEN_VENV:-$ROOT/.venv}"
  STAMP="$VENV/.warden-requirements.sha256"
  py="$(command -v python3.11 || command -v python3 || true)"
  [ -n "$py" ] || die "python3 not found"
  # The stamp covers the requirements and the interpreter the venv was made from.
  want_hash="$( { sha256sum "$REQ"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  venv_ok() {
    [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_hash" ] \
      && "$VENV/bin/python" -c 'pass' 2>/dev/null
  }
  if venv_ok; then
    log "Python venv: up to date ($VENV)"
  else
    exec 9>"${TMPDIR:-/tmp}/warden-venv-$(printf '%s' "$VENV" | sha256sum | cut -c1-16).lock"
    flock -w 600 9 || die "timed out waiting for another venv install"
    if venv_ok; then
      log "Python venv: up to date ($VENV)"
    else
      log "Python venv: installing interop/requirements.txt into $VENV"
      rm -f "$STAMP"
      if ! "$VENV/bin/python" -c 'pass' 2>/dev/null; then
        rm -rf "$VENV"
        "$py" -m venv "$VENV" || die "$py -m venv $VENV failed"
      fi
      PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$VENV/bin/python" -m pip install -q --retries 3 --timeout 60 -r "$REQ" </dev/null \
        || die "pip install -r $REQ failed"
      printf '%s\n' "$want_hash" >"$STAMP"
    fi
    exec 9>&-
  fi
fi

# ------------------------------------------------------------------ OIDC ----
# node-oidc-provider for the OpenID Connect tests (and a Node.js runtime it
# supports when Debian's is too old).
if [ -x "$ROOT/interop/oidc/setup.sh" ]; then
  bash "$ROOT/interop/oidc/setup.sh" || die "interop/oidc/setup.sh failed"
fi

log "done"
