#!/usr/bin/env bash
# Pull and load bench at the machine's speed limit: a deterministic ~1 GiB, ~40k-file image in
# four layers (bench/gen-image.py) is loaded into a reference dockerd, pushed (gzip layers) to a
# loopback registry (Debian's docker-registry), then pulled by Strata and by dockerd, alternating,
# round after round; each pull starts with the image and its layers removed from that daemon.
# Baselines on the same filesystem: plain `tar -x` of the layers' uncompressed tars, one-core
# `gunzip` of the largest compressed layer. Then `docker load` of the saved image into each
# daemon against `tar -x` of its layers (load_over_tar). Prints seconds and ratios, and each
# daemon's peak RSS during its pulls.
#
#   bench/pull-load.sh --docker-sock S --docker-pid PID --strata-sock S --strata-pid PID
#                      [--rounds N] [--scale F] [--work DIR]
#
# --work keeps the generated archive, its `docker save` and the registry's storage between runs
# (generating and pushing take minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=2 scale=1 dsock='' ssock='' spid='' dpid='' work=''
while (( $# )); do
  case $1 in
    --docker-sock) dsock=$2; shift 2 ;;
    --docker-pid) dpid=$2; shift 2 ;;
    --strata-sock) ssock=$2; shift 2 ;;
    --strata-pid) spid=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -S $dsock && -S $ssock && -n $spid && -n $dpid ]] || {
  echo "usage: $0 --docker-sock S --docker-pid PID --strata-sock S --strata-pid PID [--rounds N] [--scale F] [--work DIR]" >&2
  exit 2
}
for tool in docker-registry python3 bc; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done

keep=1
if [[ -z $work ]]; then work=$(mktemp -d /tmp/strata-pull-load.XXXXXX); keep=0; fi
mkdir -p "$work"
port=$(( 30000 + RANDOM % 20000 ))
scratch=$(mktemp -d "$work/run.XXXXXX")
cat > "$scratch/config.yml" <<CFG
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/reg
http:
  addr: 127.0.0.1:$port
CFG
docker-registry serve "$scratch/config.yml" >"$scratch/registry.log" 2>&1 &
reg=$!
cleanup() {
  kill "$reg" 2>/dev/null || true
  [[ -n ${sampler:-} ]] && kill "$sampler" 2>/dev/null || true
  rm -rf "$scratch"
  (( keep )) || rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

archive=$work/image-$scale.tar
[[ -f $archive ]] || python3 "$here/gen-image.py" "$archive.part" --scale "$scale" >/dev/null
[[ -f $archive.part ]] && mv "$archive.part" "$archive"
img=127.0.0.1:$port/bench/pull:1
dk() { DOCKER_HOST=unix://$dsock docker "$@"; }
st() { DOCKER_HOST=unix://$ssock docker "$@"; }
saved=$work/saved-$scale.tar
# The registry's storage stays in --work too: a second run pushes nothing.
if [[ ! -f $saved || ! -e $work/reg/docker/registry/v2/repositories/bench/pull/_manifests/tags/1 ]]; then
  dk load -q -i "$archive" >/dev/null
  dk tag bench/pull:1 "$img"
  dk push -q "$img" >/dev/null
  [[ -f $saved ]] || { dk save -o "$saved.part" bench/pull:1 && mv "$saved.part" "$saved"; }
  dk rmi -f "$img" bench/pull:1 >/dev/null 2>&1 || true
fi
blobs=$work/reg/docker/registry/v2/blobs/sha256
largest=$(find "$blobs" -name data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
echo "image: $(du -sm "$archive" | cut -f1) MiB uncompressed, $(du -sm "$blobs" | cut -f1) MiB in the registry," \
  "$(tar -tf "$archive" | grep -c layer.tar) layers"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

# Peak RSS of a daemon during a command: VmHWM reset first (clear_refs 5), read after.
peak_rss() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
reset_peak() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }

# Plain tar -x of every layer's tar, in order, onto one directory of the same filesystem.
tar_x() {
  local dir=$scratch/tarx
  rm -rf "$dir" "$scratch/layers"
  mkdir -p "$dir" "$scratch/layers"
  tar -xf "$archive" -C "$scratch/layers"
  sync
  local s e
  s=$(now)
  while read -r l; do tar -xf "$scratch/layers/$l" -C "$dir"; done < <(python3 -c "
import json,sys; print('\n'.join(json.load(open('$scratch/layers/manifest.json'))[0]['Layers']))")
  sync
  e=$(now)
  rm -rf "$dir" "$scratch/layers"
  secs "$s" "$e"
}

gunzip_1() {
  local s e
  cat "$largest" >/dev/null
  s=$(now)
  gunzip -c <"$largest" >/dev/null
  e=$(now)
  secs "$s" "$e"
}

# Removes the image (and so its layers) from a daemon, then times a pull.
pull_secs() {
  local which=$1 pid=$2
  $which rmi -f "$img" bench/pull:1 >/dev/null 2>&1 || true
  $which image prune -f >/dev/null 2>&1 || true
  sync
  reset_peak "$pid"
  local s e
  s=$(now)
  $which pull -q "$img" >/dev/null
  e=$(now)
  echo "$(secs "$s" "$e") $(peak_rss "$pid")"
}

load_secs() {
  local which=$1
  $which rmi -f "$img" bench/pull:1 >/dev/null 2>&1 || true
  $which image prune -f >/dev/null 2>&1 || true
  sync
  local s e
  s=$(now)
  $which load -q -i "$saved" >/dev/null
  e=$(now)
  secs "$s" "$e"
}

tarx=$(tar_x)
gz=$(gunzip_1)
printf 'baseline: tar -x %.2fs, gunzip of the largest layer (%d MiB) %.2fs\n' "$tarx" $(( $(stat -c %s "$largest") >> 20 )) "$gz"
for r in $(seq "$rounds"); do
  read -r d drss < <(pull_secs dk "$dpid")
  read -r s srss < <(pull_secs st "$spid")
  printf 'pull round %d: docker %.2fs strata %.2fs strata_over_docker %s strata_over_tar %s (peak RSS: docker %s MiB, strata %s MiB)\n' \
    "$r" "$d" "$s" "$(ratio "$s" "$d")" "$(ratio "$s" "$tarx")" "$drss" "$srss"
done
for r in $(seq "$rounds"); do
  d=$(load_secs dk)
  s=$(load_secs st)
  printf 'load round %d: docker %.2fs strata %.2fs load_over_tar docker %s strata %s\n' \
    "$r" "$d" "$s" "$(ratio "$d" "$tarx")" "$(ratio "$s" "$tarx")"
done
dk rmi -f "$img" bench/pull:1 >/dev/null 2>&1 || true
st rmi -f "$img" bench/pull:1 >/dev/null 2>&1 || true
