#!/usr/bin/env bash
# `docker load` against `tar -x` with the disk taken out of the measurement. On a shared virtual
# disk the same 1 GiB `tar -x` takes anywhere from 2 to 10 s from one minute to the next
# (discards of deleted files, the host's own traffic; on an ext4 without a journal, creating
# files right after tens of thousands were deleted also scans past every inode deleted in the
# last minute), so a load_over_tar measured there says more about the disk than about the
# engine. Here both run on an ext4 made in memory (/dev/shm, loop-mounted): what is left is
# the CPU work each does for the same files, the load's hashing, copying and flushing included.
#
# Strata (this checkout) and, when installed, Docker's daemon each get their data root on that
# filesystem. Each round times, for each engine: `tar -x` of the archive's layers in order onto
# the memory disk followed by a sync (the load makes its layers durable before it answers, so
# the reference writes them out too), then `docker load` of the archive, then removes both.
#
#   bench/load-memdisk.sh [--rounds N] [--archive A] [--scale F] [--size-gib G]
#
# --archive: a docker-archive (`docker save` output); by default bench/gen-image.py's ~1 GiB,
# ~40k-file image. --size-gib: the memory disk's size (default 6). Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3 scale=1 archive='' size=6
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --archive) archive=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --size-gib) size=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
((EUID == 0)) || { echo "$0 needs root (it mounts a filesystem)" >&2; exit 2; }
for tool in docker mkfs.ext4 python3 bc; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done

work=$(mktemp -d /tmp/strata-load-memdisk.XXXXXX)
img=/dev/shm/$(basename "$work").ext4
mnt=$work/mnt
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
  mountpoint -q "$mnt" && umount "$mnt"
  rm -f "$img"
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z $archive ]]; then
  archive=$work/image.tar
  python3 "$here/gen-image.py" "$archive" --scale "$scale" >/dev/null
fi
mkdir -p "$work/layers" "$mnt"
tar -xf "$archive" -C "$work/layers"
mapfile -t layers < <(python3 -c "
import json; print('\n'.join(json.load(open('$work/layers/manifest.json'))[0]['Layers']))")
cat "$archive" "${layers[@]/#/$work/layers/}" >/dev/null # both read from memory from now on

truncate -s "${size}G" "$img"
mkfs.ext4 -q -F "$img"
mount -o loop "$img" "$mnt"

# start NAME CMD...: starts a daemon whose socket is $work/NAME.sock, waits for it to answer.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do
    DOCKER_HOST=unix://$work/$name.sock docker version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$name did not start:" >&2
  tail -20 "$work/$name.log" >&2
  exit 1
}
engines=(strata)
start strata "$here/../bin/strata" daemon --data-root "$mnt/strata/root" --exec-root "$mnt/strata/exec" \
  --host "unix://$work/strata.sock"
if command -v dockerd >/dev/null; then
  engines+=(docker)
  start docker dockerd --data-root "$mnt/docker/root" --exec-root "$mnt/docker/exec" \
    --host "unix://$work/docker.sock" --pidfile "$work/docker.pid" --iptables=false --bridge=none
fi

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

tar_x() {
  local dir=$mnt/tarx s e
  mkdir "$dir"
  sync
  s=$(now)
  for l in "${layers[@]}"; do tar -xf "$work/layers/$l" -C "$dir"; done
  sync
  e=$(now)
  rm -rf "$dir"
  sync
  secs "$s" "$e"
}

load() {
  local name=$1 s e out
  sync
  s=$(now)
  out=$(DOCKER_HOST=unix://$work/$name.sock docker load -i "$archive")
  e=$(now)
  secs "$s" "$e"
  # Everything the load made goes again, ready for the next round.
  local ids
  ids=$(echo "$out" | sed -n 's/^Loaded image\(\| ID\): //p')
  [[ -n $ids ]] && DOCKER_HOST=unix://$work/$name.sock docker image rm -f $ids >/dev/null
  sync
}

echo "archive: $(du -m "$archive" | cut -f1) MiB, ${#layers[@]} layers; memory disk: ext4, ${size} GiB"
declare -A ratios
for r in $(seq "$rounds"); do
  for name in "${engines[@]}"; do
    t=$(tar_x)
    l=$(load "$name")
    ratio=$(printf '%.2f' "$(echo "$l / $t" | bc -l)")
    ratios[$name]+="$ratio "
    printf 'round %d %-6s tar -x + sync %.2fs  load %.2fs  load_over_tar %s\n' "$r" "$name" "$t" "$l" "$ratio"
  done
done
for name in "${engines[@]}"; do
  echo "$name load_over_tar: ${ratios[$name]}(median $(echo "${ratios[$name]}" | tr ' ' '\n' | grep . | sort -n |
    awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'))"
done
