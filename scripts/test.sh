#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, checks types and layering, runs the unit and integration
# tests (node's test runner, as root with real mounts and runc), then the acceptance labs
# that Strata passes, against a daemon started for them, and the storage and volume labs again
# with the data-root on a loop-mounted btrfs (the btrfs driver). Ends with one line counting both.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || { echo "install failed"; exit 1; }
bash scripts/check.sh || { echo "check failed: types or layering rules (scripts/check.sh)"; exit 1; }
out=$(mktemp)

mapfile -t tests < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency=1 --test-timeout=600000 "${tests[@]}" 2>&1 | tee "$out"
unit_rc=${PIPESTATUS[0]}
unit_pass=$(grep -oP '^(ℹ|#) pass \K\d+' "$out" | tail -1)
unit_fail=$(grep -oP '^(ℹ|#) fail \K\d+' "$out" | tail -1)

bash scripts/run-labs.sh 2>&1 | tee "$out"
labs_rc=${PIPESTATUS[0]}
read -r labs_pass labs_fail < <(tail -n 1 "$out" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p')

# The btrfs driver: the labs about layers, the writable layer, volumes and disk usage (about a
# third of the list, a few minutes); the overlay2 lab (10) does not apply.
btrfs_labs=('0*' '1[1-9]-*' '2[0-4]-*' '41-*')
echo "labs on btrfs (--storage-driver btrfs on a loop-mounted data-root): ${btrfs_labs[*]}"
STRATA_LABS_DRIVER=btrfs STRATA_LABS_LAST=/tmp/strata-labs-btrfs-last-line bash scripts/run-labs.sh "${btrfs_labs[@]}" 2>&1 | tee "$out"
btrfs_rc=${PIPESTATUS[0]}
read -r btrfs_pass btrfs_fail < <(tail -n 1 "$out" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p')
labs_pass=$(( ${labs_pass:-0} + ${btrfs_pass:-0} ))
labs_fail=$(( ${labs_fail:-0} + ${btrfs_fail:-0} + (btrfs_rc != 0 && ${btrfs_fail:-0} == 0) ))
(( btrfs_rc == 0 )) || labs_rc=1
rm -f "$out"

echo "unit and integration tests: ${unit_pass:-0} passed, ${unit_fail:-0} failed; labs (overlay2 and btrfs): ${labs_pass:-0} passed, ${labs_fail:-0} failed"
(( unit_rc == 0 && labs_rc == 0 )) || { unit_fail=$(( ${unit_fail:-0} + (unit_rc != 0 && ${unit_fail:-0} == 0) )); }
echo "$(( ${unit_pass:-0} + ${labs_pass:-0} )) passed, $(( ${unit_fail:-0} + ${labs_fail:-0} )) failed"
(( unit_rc == 0 && labs_rc == 0 ))
