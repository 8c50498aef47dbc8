#!/usr/bin/env bash
# Build an installable Debian package of the desktop app and the `warden`
# command with Tauri's bundler, install it and start the installed binaries
# once to prove it.  NOT part of scripts/test.sh: the release build takes
# about 10 minutes on 2 cores.
#
#   ./scripts/build-deb.sh            build target/release/bundle/deb/Warden_<version>_<arch>.deb
#   ./scripts/build-deb.sh --install  ...then dpkg -i it and start /usr/bin/warden-app
#                                     and /usr/bin/warden once
#
# The Tauri CLI comes from the npm registry (package.json pins @tauri-apps/cli;
# `npm ci` installs it into node_modules/). `tauri build` compiles the app in
# release mode with ui/ embedded in the binary and runs the deb bundler
# (src-tauri/tauri.conf.json → bundle: icon, desktop entry, Depends, and
# bundle.linux.deb.files, which puts target/release/warden at /usr/bin/warden:
# built here first, since `tauri build` builds only the app).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec </dev/null

bash scripts/install-deps.sh
if [ ! -x node_modules/.bin/tauri ] || ! node_modules/.bin/tauri --version >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi
cargo build --release --locked -p warden-cli
node_modules/.bin/tauri build --bundles deb --ci

deb="$(ls -t target/release/bundle/deb/*.deb | head -1)"
echo "built $ROOT/$deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
for bin in usr/bin/warden-app usr/bin/warden; do
  dpkg-deb --contents "$deb" | grep -E " (\./)?$bin\$" \
    || { echo "ERROR: $bin is not in $deb"; exit 1; }
done

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
  /usr/bin/warden --version
  WARDEN_APP_DATA_DIR="$data" /usr/bin/warden profiles
  echo "installed /usr/bin/warden runs"
  rm -rf "$data"
fi
