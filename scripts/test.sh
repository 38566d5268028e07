#!/usr/bin/env bash
# `npm test`: installs missing system packages (as root), builds, then runs every test once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh test
npm run build
mkdir -p .cache
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json "$@"
status=$?
set -e
# One plain closing line that any CI can read.
node -e '
const fs = require("fs");
try {
  const r = JSON.parse(fs.readFileSync(".cache/vitest.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
} catch { console.log("tests: 0 passed, 1 failed"); }
'
exit $status
