#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/mount_tar.sh - a source tree through `udax mount` beside tmpfs
# (called by `make bench`; needs root and /dev/fuse, else says why and
# exits 0).
#
#   sh bench/mount_tar.sh [UDAX] [TREE] [REPS]
#
# TREE (default /usr/include) is archived once into memory; then, REPS
# times (default 3), interleaved: tar -x of the archive into a fresh
# folder on tmpfs and on a udax mount (a 2 GiB memory-file image on
# /dev/shm), and tar -c of the extracted tree back out (piped, so that
# tar reads every byte) from tmpfs, from the mount with its page cache
# warm, and from a fresh mount (cold). Prints the median seconds of each.
set -u

UDAX=${1:-build/udax}
TREE=${2:-/usr/include}
REPS=${3:-3}

[ "$(id -u)" = 0 ] && [ -c /dev/fuse ] || {
	echo "mount tar: skipped (needs root and /dev/fuse)"
	exit 0
}
work=$(mktemp -d /dev/shm/udax-bench-mount.$$.XXXXXX) || exit 1
mnt=/tmp/udax-bench-mnt.$$
img=$work/b.img
cleanup() {
	awk -v m="$mnt" '$5 == m' /proc/self/mountinfo | grep -q . &&
		"$UDAX" umount "$mnt"
	rmdir "$mnt" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
mkdir -p "$mnt" "$work/tmpfs"

tar -C "$(dirname "$TREE")" -cf "$work/tree.tar" "$(basename "$TREE")" || exit 1
files=$(tar -tf "$work/tree.tar" | wc -l)
mib=$(($(stat -c %s "$work/tree.tar") / 1048576))
"$UDAX" mkfs -q --size 2G "$img" || exit 1
"$UDAX" mount "$img" "$mnt" || exit 1

now() { date +%s.%N; }
# timed FILE CMD...: append the seconds CMD took to FILE.
timed() {
	out=$1
	shift
	t0=$(now)
	"$@" || exit 1
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/$out"
}
median() { sort -n "$work/$1" | awk '{v[NR]=$1} END {printf "%.2f", v[int((NR+1)/2)]}'; }

for r in $(seq "$REPS"); do
	timed x.tmpfs sh -c "mkdir '$work/tmpfs/$r' && tar -C '$work/tmpfs/$r' -xf '$work/tree.tar'"
	timed x.udax sh -c "mkdir '$mnt/$r' && tar -C '$mnt/$r' -xf '$work/tree.tar'"
	timed c.tmpfs sh -c "tar -C '$work/tmpfs/$r' -cf - . | cat >/dev/null"
	timed c.udax-warm sh -c "tar -C '$mnt/$r' -cf - . | cat >/dev/null"
	"$UDAX" umount "$mnt" && "$UDAX" mount "$img" "$mnt" || exit 1
	timed c.udax-cold sh -c "tar -C '$mnt/$r' -cf - . | cat >/dev/null"
done
printf 'mount tar: %s (%d files, %d MiB), median of %d, seconds\n' \
	"$TREE" "$files" "$mib" "$REPS"
printf '  tar -x  into tmpfs %s   into udax mount %s\n' \
	"$(median x.tmpfs)" "$(median x.udax)"
printf '  tar -c  from tmpfs %s   from udax mount %s (page cache warm), %s (fresh mount)\n' \
	"$(median c.tmpfs)" "$(median c.udax-warm)" "$(median c.udax-cold)"
