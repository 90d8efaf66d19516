#!/usr/bin/env bash
# Installs what Strata needs on a fresh Debian/Ubuntu machine (as root): the OCI runtime,
# the mount and filesystem tools it drives, the docker CLI and a registry for the tests, and the npm
# packages (better-sqlite3 and koffi build or unpack their native parts here).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v runc >/dev/null || need+=(runc)
command -v mount >/dev/null || need+=(mount)
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
# The btrfs driver's tests and labs make a loop-mounted btrfs; quotas are set with the btrfs CLI.
command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs)
command -v zstd >/dev/null || need+=(zstd)
command -v restic >/dev/null || need+=(restic)
command -v rclone >/dev/null || need+=(rclone)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v fallocate >/dev/null || need+=(util-linux)
# overlay2's stand-in where the kernel refuses overlayfs on the data-root's filesystem.
command -v fuse-overlayfs >/dev/null || need+=(fuse-overlayfs)
[ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null 2>&1 || need+=(busybox-static)
command -v docker >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
# --init: tini-static is what Docker ships as docker-init.
command -v docker-init >/dev/null || command -v tini-static >/dev/null || need+=(tini)
# Networks: netavark sets up bridges, veths, firewall rules and port forwarding; aardvark-dns answers names.
[ -x /usr/lib/podman/netavark ] || command -v netavark >/dev/null || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || command -v aardvark-dns >/dev/null || need+=(aardvark-dns)
# netavark's firewall driver runs iptables; the daemon and the tests use ip (namespaces, links).
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v python3 >/dev/null || need+=(python3)
/usr/bin/python3 -c 'import docker' >/dev/null 2>&1 || need+=(python3-docker)
command -v make >/dev/null || need+=(make)
command -v g++ >/dev/null || need+=(g++)
if (( ${#need[@]} )); then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Docker's default seccomp profile, as Debian packages it with Docker's Go sources. Only that one
# file is taken from the package (installing it would pull in ~260 Go library packages).
profile=/usr/local/share/strata/seccomp/default.json
gosrc=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
if [ ! -f "$profile" ] && [ ! -f "$gosrc" ]; then
  echo "extracting Docker's default seccomp profile from golang-github-docker-docker-dev"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  ( cd "$tmp" && chmod 0777 . && { apt-get download -qq golang-github-docker-docker-dev 2>/dev/null || { apt-get update -qq && apt-get download -qq golang-github-docker-docker-dev; }; } )
  dpkg-deb --fsys-tarfile "$tmp"/golang-github-docker-docker-dev_*.deb | tar -x -C "$tmp" ".$gosrc"
  install -D -m 0644 "$tmp$gosrc" "$profile"
  rm -rf "$tmp"
  trap - EXIT
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages (better-sqlite3 and koffi build their native parts)..."
  npm ci --no-audit --no-fund
fi
echo "compiling Strata (tsc)..."
npm run build --silent
