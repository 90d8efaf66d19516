#!/usr/bin/env bash
# Pull bench: the same multi-layer image pulled from one loopback registry (Debian's
# docker-registry) by Strata and by a reference dockerd, round after round, each round starting
# with the image and its own layers removed from both. Prints each round's seconds, the
# Strata/Docker ratio and Strata's peak daemon memory (VmHWM).
#
#   bench/registry-pull.sh --docker-sock S --strata-sock S --strata-pid PID [--rounds N]
#                          [--files N] [--random-mb N]
#
# Both daemons must be running and have busybox:latest (the stand-in image); the image is built
# by dockerd (4 layers: N/3 small random files, N/3 small text files, random and zero blobs of
# --random-mb MiB each) and pushed to a registry this script starts on a free loopback port.
set -euo pipefail
rounds=3 files=24000 mb=60 dsock='' ssock='' spid=''
while (( $# )); do
  case $1 in
    --docker-sock) dsock=$2; shift 2 ;;
    --strata-sock) ssock=$2; shift 2 ;;
    --strata-pid) spid=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --random-mb) mb=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -S $dsock && -S $ssock && -n $spid ]] || { echo "usage: $0 --docker-sock S --strata-sock S --strata-pid PID" >&2; exit 2; }

work=$(mktemp -d /tmp/strata-pull-bench.XXXXXX)
port=$(( 30000 + RANDOM % 20000 ))
cat > "$work/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/reg
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

third=$(( files / 3 ))
mkdir -p "$work/ctx"
cat > "$work/ctx/Dockerfile" <<EOF
FROM busybox:latest
RUN mkdir -p /d1 && cd /d1 && for i in \$(seq 1 $third); do head -c 4096 /dev/urandom > f\$i; done
RUN mkdir -p /d2 && cd /d2 && for i in \$(seq 1 $third); do echo "file \$i \$(seq 1 60)" > f\$i; done && dd if=/dev/urandom of=/d2/big bs=1M count=$mb 2>/dev/null
RUN mkdir -p /d3 && cd /d3 && for i in \$(seq 1 $third); do head -c 2048 /dev/urandom > f\$i; done && dd if=/dev/zero of=/d3/zero bs=1M count=$mb 2>/dev/null
RUN mkdir -p /d4 && dd if=/dev/urandom of=/d4/a bs=1M count=$mb 2>/dev/null
EOF
img=127.0.0.1:$port/bench/pull:1
DOCKER_HOST=unix://$dsock docker build -q -t "$img" "$work/ctx" >/dev/null 2>&1
DOCKER_HOST=unix://$dsock docker push -q "$img" >/dev/null
echo "image: $(du -sm "$work/reg" | cut -f1) MiB in the registry, $files files"

pull_secs() {
  local sock=$1
  DOCKER_HOST=unix://$sock docker rmi -f "$img" >/dev/null 2>&1 || true
  DOCKER_HOST=unix://$sock docker image prune -f >/dev/null 2>&1 || true
  local s e
  s=$(date +%s.%N)
  DOCKER_HOST=unix://$sock docker pull -q "$img" >/dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

for r in $(seq "$rounds"); do
  d=$(pull_secs "$dsock")
  s=$(pull_secs "$ssock")
  printf 'round %d: docker %.2fs strata %.2fs ratio %.2f\n' "$r" "$d" "$s" "$(echo "$s / $d" | bc -l)"
done
echo "strata peak memory: $(awk '/VmHWM/ {print $2, $3}' /proc/"$spid"/status)"
