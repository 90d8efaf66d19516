#!/usr/bin/env bash
# Fast checks that need no root and no daemon: the type check, the formatter (prettier, settings in
# .prettierrc.json; `npm run format` rewrites), and the layering rules of
# .dependency-cruiser.cjs (no import cycles; mechanisms never import services; services never
# import api/ or cli/; only api/ and daemon.ts see Engine; api/ calls each service through the
# roles of its room's backend.ts, never the classes behind them, and of the network, builder,
# backup and distribution rooms imports those roles' types only; the deferred rooms (builder,
# backup, distribution) are imported elsewhere for types or dynamically, so they load at their
# first call). Arrows already known to break a rule
# are listed in .dependency-cruiser-known-violations.json: a new one fails the check, and the
# list only shrinks (regenerate it with `npx depcruise-baseline` after removing one).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
npx prettier --check --log-level warn 'src/**/*.ts' 'test/**/*.ts'
npx depcruise src --config .dependency-cruiser.cjs --ignore-known .dependency-cruiser-known-violations.json --output-type err
echo "check: types, formatting and layering rules hold"
