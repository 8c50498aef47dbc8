#!/usr/bin/env bash
# Runs Node.js as set up by setup.sh: the machine's when new enough, else the
# packaged runtime in .runtime/.
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$DIR/.runtime/node_modules/.bin/node" ]; then
  exec "$DIR/.runtime/node_modules/.bin/node" "$@"
fi
exec node "$@"
