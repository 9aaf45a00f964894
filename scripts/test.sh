#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, and runs every suite: typecheck, unit,
# integration (real lab, sshd, PostgreSQL, QEMU) and end to end (Debian's Chromium).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "npm test needs root: the lab builds network namespaces, bridges and mounts (run it as root)" >&2
  exit 7
fi
bash scripts/ensure-debian-packages.sh || exit $?
bash scripts/ensure-npm.sh || exit $?
node scripts/build.mjs || exit 1

mkdir -p test-reports
# Reports of an earlier run must not count in this one's summary.
rm -f test-reports/*.json
summary=test-reports/summary.txt
: > "$summary"
status=0
suite() {  # name, command…
  local name=$1; shift
  echo "=== $name: $*"
  if "$@"; then echo "$name ok" >> "$summary"; else status=1; echo "$name FAILED" >> "$summary"; fi
}
suite typecheck npx tsc -p tsconfig.json --noEmit
[ -f electron/tsconfig.json ] && suite typecheck-electron npx tsc -p electron/tsconfig.json --noEmit
suite unit npx vitest run --project unit --reporter=default --reporter=./scripts/vitest-counts.mjs --reporter=json --outputFile.json=test-reports/unit.json
suite integration npx vitest run --project integration --reporter=default --reporter=./scripts/vitest-counts.mjs --reporter=json --outputFile.json=test-reports/integration.json
# The one suite with the full Debian guest (builds it once: a few minutes of debootstrap).
suite debian npx vitest run --project debian --reporter=default --reporter=./scripts/vitest-counts.mjs --reporter=json --outputFile.json=test-reports/debian.json
# The disk-less node end to end (builds the node image once: a few minutes of debootstrap).
suite diskless npx vitest run --project diskless --reporter=default --reporter=./scripts/vitest-counts.mjs --reporter=json --outputFile.json=test-reports/diskless.json
if [ -f playwright.config.ts ]; then
  suite e2e env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PLAYWRIGHT_JSON_OUTPUT_NAME=test-reports/e2e.json npx playwright test --reporter=list,json 
fi
node scripts/test-summary.mjs
cat "$summary"
exit $status
