#!/usr/bin/env bash
# N concurrent `docker load`s of one archive against the daemon at $DOCKER_HOST whose pid is
# given: the daemon's RSS when idle, right after the loads and 5 s later, and the loads' time.
#   load-bench.sh PID ARCHIVE [N]
set -euo pipefail
pid=$1 archive=$2 n=${3:-20}
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
echo "idle RSS: $(rss) MB"
start=$(date +%s.%N)
for _ in $(seq "$n"); do docker load -q -i "$archive" >/dev/null & done
fail=0
for job in $(jobs -p); do wait "$job" || fail=$((fail + 1)); done
end=$(date +%s.%N)
echo "after $n loads: $(rss) MB; time $(echo "$end - $start" | bc) s; failed loads: $fail"
sleep 5
echo "5 s later: $(rss) MB"
