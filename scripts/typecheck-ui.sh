#!/usr/bin/env bash
# tsc's check of the window's modules (ui/js, JSDoc + // @ts-check) against the
# IPC types rendered from Rust (ui/js/wire.d.ts, kept current by
# crates/warden-desktop/tests/wire_types.rs). TypeScript comes from
# package.json's pinned devDependencies (npm ci, once).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
want="$(node -p "require('./package.json').devDependencies.typescript")"
have="$(node -p "try { require('./node_modules/typescript/package.json').version } catch { '' }")"
if [ "$have" != "$want" ]; then
  echo "typecheck-ui: npm ci (typescript $want)"
  npm ci --no-audit --no-fund --loglevel=error
fi
./node_modules/.bin/tsc -p ui
echo "typecheck-ui: ui/js checks against ui/js/wire.d.ts (typescript $want)"
