#!/usr/bin/env bash
# Builds, then runs the given test files (TypeScript paths under test/) with node's runner:
#   npm run test:one -- test/volume/service.test.ts [more…]
# Tests that mount, run runc or start a daemon need root.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
files=()
for f in "$@"; do files+=("dist/${f%.ts}.js"); done
exec node --test --test-concurrency=1 "${files[@]}"
