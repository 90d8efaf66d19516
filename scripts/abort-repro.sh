#!/usr/bin/env bash
# Stress for terminal plumbing: a long-lived `-it` container, short `-t` runs and `exec -t`s in
# parallel with `docker ps`, and a `restart` of the long-lived container every tenth round.
# A daemon that closes one descriptor twice dies here (libuv aborts when a closed fd number
# has been reused by something it polls). Exits 0 when the daemon is alive at the end.
#   abort-repro.sh [ROUNDS] [RESTART_EVERY]
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-60}
every=${2:-10}
work=$(mktemp -d /tmp/strata-abort.XXXXXX)
sock=$work/strata.sock
export DOCKER_HOST=unix://$sock
bin/strata daemon --data-root "$work/root" --exec-root "$work/exec" --host "$DOCKER_HOST" >"$work/daemon.log" 2>&1 &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$daemon" 2>/dev/null
  wait "$daemon" 2>/dev/null
  # What its networks left on the host goes with the scratch data-root, printed.
  [[ -d $work/root ]] && node scripts/network-leftovers.mjs "$work/root" "$work/exec"
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
fixtures=${STRATA_FIXTURES_DIR:-/tmp/strata-fixtures}
"${STRATA_SHARED:-$(pwd)/../shared}/fixtures/load-images" "$fixtures" >/dev/null || exit 2
docker run -dit --name it busybox sh >/dev/null || exit 2

( while kill -0 "$daemon" 2>/dev/null; do docker ps >/dev/null 2>&1; done ) &
ps_loop=$!
for round in $(seq "$rounds"); do
  docker run --rm -t busybox echo hi >/dev/null 2>&1 &
  run=$!
  docker exec -t it echo hi >/dev/null 2>&1 &
  exec_=$!
  if (( round % every == 0 )); then docker restart -t 1 it >/dev/null 2>&1; fi
  wait "$run" "$exec_" 2>/dev/null
  kill -0 "$daemon" 2>/dev/null || break
done
kill "$ps_loop" 2>/dev/null; wait "$ps_loop" 2>/dev/null
if kill -0 "$daemon" 2>/dev/null; then
  echo "daemon alive after $rounds rounds"
  exit 0
fi
wait "$daemon"; status=$?
echo "daemon died (exit status $status$( ((status > 128)) && echo ", signal $((status - 128))")) in round $round"
tail -n 60 "$work/daemon.log"
exit 1
