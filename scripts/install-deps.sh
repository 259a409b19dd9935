#!/bin/sh
# Install the Debian 12 packages udax needs to build and test. Pinned by
# name; run by the Makefile when they are missing. Needs root (or sudo).
#
# With --nfs, instead: the packages of the NFS export test (tests/t_nfs.sh),
# the NFS server nfs-ganesha with its VFS backend and libnfs's
# command-line clients. They are not in the default list: they bring in
# a server daemon and rpcbind (on a machine with systemd both start
# listening on the network as soon as they are installed), which nobody
# needs to build or use udax; `make check` counts the NFS test as
# skipped where they are absent, and says how to install them. CI
# installs them.
# With --bench, instead: what `udax bench serve` runs beside udax serve
# (make bench installs them): nginx-core (nginx with its dav module, for
# PUT) and the HTTP load generator wrk; and gnuplot-nox, which draws
# `make plots`. Not in the default list either:
# on a machine with systemd, nginx starts listening on port 80 as soon as
# it is installed.
# libfuse3-dev and fuse3 (fusermount3) build and run `udax mount`; sqlite3,
# git, rsync and tar are what tests/t_mount.sh runs on a mount.
set -e
PKGS="build-essential pkg-config libpmem2-dev clang libfuse3-dev fuse3
sqlite3 git rsync tar"
missing=""
# python3 parses the --json outputs and groff checks the man pages in
# tests/cli_output.sh (its script(1) is in bsdutils, always installed).
PKGS="$PKGS python3 groff-base"
# liburing-dev: tests/t_pin.c pins device pages the way io_uring fixed
# buffers do.
PKGS="$PKGS liburing-dev"
# curl: the client tests/t_serve.sh drives `udax serve` with.
PKGS="$PKGS curl"
recommends=""
if [ "${1:-}" = --nfs ]; then
	PKGS="nfs-ganesha nfs-ganesha-vfs libnfs-utils"
	recommends="--no-install-recommends"
fi
if [ "${1:-}" = --bench ]; then
	PKGS="nginx-core wrk gnuplot-nox"
	recommends="--no-install-recommends"
fi
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "udax: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
$SUDO apt-get install -y -qq $recommends $missing >&2
