#!/usr/bin/env bash
# Build an installable Debian package of the desktop app, install it and start
# the installed binary once to prove it.  NOT part of scripts/test.sh: the
# release build takes about 10 minutes on 2 cores.
#
#   ./scripts/build-deb.sh            build target/debian/warden_<version>_<arch>.deb
#   ./scripts/build-deb.sh --install  ...then dpkg -i it and start /usr/bin/warden-app once
#
# Plain cargo + dpkg-deb (no tauri-cli): a release build with the
# custom-protocol feature embeds ui/ in the binary, so the binary is the app.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install-deps.sh
cargo build --release -p warden-app --features custom-protocol

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
arch="$(dpkg --print-architecture)"
pkg="$ROOT/target/debian/warden_${version}_${arch}"
rm -rf "$pkg"
install -Dm755 target/release/warden-app "$pkg/usr/bin/warden-app"
install -Dm644 src-tauri/icons/icon.png "$pkg/usr/share/icons/hicolor/256x256/apps/warden.png"
install -d "$pkg/usr/share/applications" "$pkg/DEBIAN"
cat >"$pkg/usr/share/applications/warden.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Warden
Comment=Desktop session manager for JWTs
Exec=warden-app
Icon=warden
Categories=Utility;Development;
DESKTOP
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: warden
Version: ${version}
Architecture: ${arch}
Maintainer: Warden developers <warden@example.invalid>
Depends: libwebkit2gtk-4.1-0, libgtk-3-0
Recommends: gnome-keyring
Section: utils
Priority: optional
Description: Desktop session manager for JWTs
 Sign in, watch access and refresh tokens live, rotate, log out everywhere.
CONTROL
dpkg-deb --root-owner-group --build "$pkg" >/dev/null
echo "built ${pkg}.deb"

if [ "${1:-}" = "--install" ]; then
  dpkg -i "${pkg}.deb"
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
