#!/usr/bin/env bash
# Run the Warden desktop app: ./scripts/run.sh [ARGS...]  (from any directory)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash "$ROOT/scripts/install-deps.sh"

if [ -d src-tauri ] || compgen -G 'crates/*/src-tauri' >/dev/null; then
  # TODO(lead): replace `warden-app` with the real package name of the Tauri
  # app; decide on --release (needs the custom-protocol feature, see TAURI.md)
  # and whether a headless machine should get scripts/with-desktop-session.sh.
  exec cargo run -p warden-app -- "$@"
fi

echo "run.sh: the Warden desktop app is not built yet (no src-tauri/ in $ROOT)." >&2
echo "run.sh: for now, run the tests with ./scripts/test.sh" >&2
exit 2
