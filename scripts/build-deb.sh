#!/usr/bin/env bash
# Build an installable Debian package of the desktop app with Tauri's bundler,
# install it and start the installed binary once to prove it.  NOT part of
# scripts/test.sh: the release build takes about 10 minutes on 2 cores.
#
#   ./scripts/build-deb.sh            build target/release/bundle/deb/Warden_<version>_<arch>.deb
#   ./scripts/build-deb.sh --install  ...then dpkg -i it and start /usr/bin/warden-app once
#
# The Tauri CLI comes from the npm registry (package.json pins @tauri-apps/cli;
# `npm ci` installs it into node_modules/). `tauri build` compiles the app in
# release mode with ui/ embedded in the binary and runs the deb bundler
# (src-tauri/tauri.conf.json → bundle: icon, desktop entry, Depends).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null

bash scripts/install-deps.sh
if [ ! -x node_modules/.bin/tauri ] || ! node_modules/.bin/tauri --version >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
node_modules/.bin/tauri build --bundles deb --ci

deb="$(ls -t target/release/bundle/deb/*.deb | head -1)"
echo "built $ROOT/$deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'

if [ "${1:-}" = "--install" ]; then
  dpkg -i "$deb"
  data="$(mktemp -d)"
  # Start the installed binary once, headless, and check it serves its backend.
  bash scripts/with-desktop-session.sh bash -c "
    WARDEN_APP_DATA_DIR='$data' /usr/bin/warden-app & pid=\$!
    for _ in \$(seq 1 50); do [ -f '$data/warden.db' ] && break; sleep 0.2; done
    sleep 2; kill -TERM \$pid; wait \$pid || true
    test -f '$data/warden.db'"
  echo "installed /usr/bin/warden-app started and created its database"
  rm -rf "$data"
fi
