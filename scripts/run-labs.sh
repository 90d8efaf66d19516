#!/usr/bin/env bash
# Starts a Strata daemon on a scratch data-root and runs the acceptance labs listed in
# test/labs-passing.txt (the labs Strata is known to pass: a regression turns the run red).
#   run-labs.sh [GLOB...]    other labs instead of the list
# STRATA_LABS_DRIVER=vfs|overlay2|btrfs picks the daemon's storage driver (default: its own
# choice); with btrfs the data-root is a loop-mounted btrfs made for the run and removed after.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shared=${STRATA_SHARED:-$repo/../shared}
last=${STRATA_LABS_LAST:-/tmp/strata-labs-last-line}

if [[ ${1:-} == --summary-only ]]; then cat "$last"; exit 0; fi

# Labs that cannot be found count as failed: skipping them quietly would hide every regression.
if [[ ! -x $shared/labs/run-all ]]; then
  echo "labs: $shared/labs not found (set STRATA_SHARED to the directory that holds labs/ and fixtures/)"
  echo "0 passed, 1 failed" | tee "$last"
  exit 1
fi
if (( $# )); then patterns=("$@"); else mapfile -t patterns < <(grep -v '^\s*#' test/labs-passing.txt | grep -v '^\s*$'); fi
if (( ${#patterns[@]} == 0 )); then
  echo "labs: none listed in test/labs-passing.txt"
  echo "0 passed, 0 failed" | tee "$last"
  exit 0
fi

work=$(mktemp -d /tmp/strata-labs.XXXXXX)
sock=$work/strata.sock
driver=${STRATA_LABS_DRIVER:-}
driver_args=()
[[ -n $driver ]] && driver_args=(--storage-driver "$driver")
daemon=
cleanup() {
  if [[ -n $daemon ]]; then
    # The orderly stop stops the containers (their stop timeouts) and so their networks; only a
    # daemon still there after that is killed.
    kill -TERM "$daemon" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  # What the data-root's networks left on the host (a killed daemon's bridges and firewall
  # chains) goes before the data-root that names them; each object removed is printed.
  [[ -d $work/root ]] && node scripts/network-leftovers.mjs "$work/root" "$work/exec"
  # Whatever the daemon left mounted under its scratch root, deepest first (the loop-mounted
  # btrfs data-root last; its loop device goes with it, being set to clear on last close).
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if [[ $driver == btrfs ]]; then
  mkdir "$work/root"
  truncate -s "${STRATA_LABS_BTRFS_SIZE:-8G}" "$work/btrfs.img"
  mkfs.btrfs -q "$work/btrfs.img" >/dev/null 2>&1 && mount -o loop "$work/btrfs.img" "$work/root" ||
    { echo "labs: cannot make a btrfs data-root"; echo "0 passed, 1 failed" | tee "$last"; exit 1; }
fi
bin/strata daemon --data-root "$work/root" --exec-root "$work/exec" --host "unix://$sock" "${driver_args[@]}" >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done

fixtures=${STRATA_FIXTURES_DIR:-/tmp/strata-fixtures}
DOCKER_HOST=unix://$sock "$shared/fixtures/load-images" "$fixtures" >/dev/null || { echo "labs: could not load the stand-in images"; tail -20 "$work/daemon.log"; echo "0 passed, ${#patterns[@]} failed" | tee "$last"; exit 1; }
DOCKER_HOST=unix://$sock "$shared/labs/run-all" "${patterns[@]}" | tee "$work/labs.out"
rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$work/labs.out")
# A failed lab listed in test/labs-flaky.txt runs again, twice at most; a pass counts.
mapfile -t flaky < <(sed 's/#.*//' test/labs-flaky.txt | awk 'NF {print $1}')
for lab in $(sed -n 's/^FAIL \([^:]*\):.*/\1/p' "$work/labs.out"); do
  [[ " ${flaky[*]} " == *" $lab "* ]] || continue
  for attempt in 2 3; do
    echo "labs: $lab is known to fail by chance (test/labs-flaky.txt); attempt $attempt"
    if DOCKER_HOST=unix://$sock "$shared/labs/run-all" "$lab" | tail -n 2; then
      read -r passed _ failed _ <<<"$summary"
      summary="$((passed + 1)) passed, $((failed - 1)) failed"
      break
    fi
  done
done
# A daemon that died during the labs fails the run, whatever the labs said, and shows why.
daemon_died=0
if ! kill -0 "$daemon" 2>/dev/null; then
  wait "$daemon"; status=$?
  daemon_died=1
  if (( status > 128 )); then how="killed by signal $((status - 128)) ($(kill -l $((status - 128)) 2>/dev/null))"; else how="exit status $status"; fi
  echo "labs: the daemon died during the labs: $how"
  echo "--- daemon log (last 60 lines) ---"; tail -n 60 "$work/daemon.log"
  read -r passed _ failed _ <<<"$summary"
  summary="$passed passed, $((failed + 1)) failed"
fi
echo "$summary" >"$last"
[[ $summary == *" 0 failed" ]] && rc=0 || rc=1
if (( rc != 0 && ! daemon_died )); then echo "--- daemon log (last 40 lines) ---"; tail -n 40 "$work/daemon.log"; fi
echo "$summary"
exit "$rc"
