#!/usr/bin/env bash
# npm start: install dependencies when missing, build when sources are newer than the build,
# then open the app: Electron where its binary is present, else the browser bridge in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "start: installing npm dependencies" >&2
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund >&2
fi

# Stale when any source is newer than the oldest output it feeds.
stale() {
  local out=$1; shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' -o -name '*.mjs' \) -print -quit 2>/dev/null)" ]
}
if stale dist/vlx.mjs main scripts/build.mjs; then node scripts/build.mjs cli; fi
if stale dist/renderer/index.html renderer main/api main/web; then node scripts/build.mjs renderer; fi
if stale dist/electron/main.cjs electron main; then node scripts/build.mjs electron; fi

if [ -x node_modules/electron/dist/electron ]; then
  echo "start: opening the desktop app (Electron)" >&2
  args=()
  [ "$(id -u)" = 0 ] && args+=(--no-sandbox)  # Chromium's sandbox refuses to run as root
  exec node_modules/electron/dist/electron "${args[@]}" . "$@"
else
  echo "start: no Electron binary (node_modules/electron/dist/electron): serving the app through the browser bridge and opening Chromium" >&2
  exec node --enable-source-maps dist/vlx.mjs gui "$@"
fi
