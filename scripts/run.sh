#!/usr/bin/env bash
# Run the Warden desktop app on its embedded backend: ./scripts/run.sh [ARGS...]
# (from any directory). Installs the system packages it needs first. The first
# run offers to create a local account; later runs restore the session from the
# OS keyring. Needs a graphical session (DISPLAY or WAYLAND_DISPLAY).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash "$ROOT/scripts/install-deps.sh"
exec cargo run -p warden-app -- "$@"
