#!/usr/bin/env bash
# Starts the Strata engine in the foreground (installing what it needs first).
# Extra arguments go to `strata daemon`, e.g. --data-root DIR --storage-driver vfs.
set -euo pipefail
cd "$(dirname "$0")/.."
# The first start installs packages and compiles native modules, which takes minutes: say so.
echo "Strata: checking what it needs (the first start installs packages and builds native modules, which takes a few minutes)..."
bash scripts/install-deps.sh
host=unix:///run/strata/strata.sock
for ((i = 1; i <= $#; i++)); do
  if [[ ${!i} == --host ]]; then j=$((i + 1)); host=${!j}; fi
  if [[ ${!i} == --host=* ]]; then host=${!i#--host=}; fi
done
echo "Strata is starting. Point the docker CLI at it with:"
echo "  export DOCKER_HOST=$host"
exec bin/strata daemon "$@"
