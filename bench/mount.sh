#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/mount.sh - a source tree through `udax mount`, beside tmpfs and
# beside a minimal pass-through file system over tmpfs on libfuse's
# low-level API (bench/fuse/passthrough_ll.c: the cost of FUSE alone),
# in one run (called by `make bench`; needs root and /dev/fuse, else
# says why and exits 0).
#
#   sh bench/mount.sh [UDAX] [TREE] [REPS]
#
# TREE (default /usr/include) is archived once into memory. Then, REPS
# times (default 3), each step on the three file systems one after the
# other: tar -x of the archive into a fresh folder; both FUSE file
# systems mounted afresh (cold caches), tar -c of the tree back out
# (piped, so that tar reads every byte); mounted afresh again, `find |
# xargs stat`; and rm -r of the tree. The udax image is a 2 GiB memory
# file on /dev/shm; the pass-through serves a folder on /dev/shm. Prints
# the median seconds of each, the ratio udax / pass-through with the
# goal of issue 14 (at most half), and the load average before and after.
# With MOUNT_JSON=FILE it also writes the figures to FILE as JSON (for
# bench/plot.py).
set -u

UDAX=${1:-build/udax}
TREE=${2:-/usr/include}
REPS=${3:-3}

[ "$(id -u)" = 0 ] && [ -c /dev/fuse ] || {
	echo "mount: skipped (needs root and /dev/fuse)"
	exit 0
}
PT=$(dirname "$UDAX")/bench/passthrough-ll
mkdir -p "$(dirname "$PT")"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -D_GNU_SOURCE -pthread \
	bench/fuse/passthrough_ll.c $(pkg-config --cflags --libs fuse3) \
	-o "$PT" || exit 1
work=$(mktemp -d /dev/shm/udax-bench-mount.$$.XXXXXX) || exit 1
mnt_u=/tmp/udax-bench-mnt.$$
mnt_p=/tmp/udax-bench-pt.$$
img=$work/b.img
ptpid=""
mounted() { awk -v m="$1" '$5 == m' /proc/self/mountinfo | grep -q .; }
cleanup() {
	mounted "$mnt_u" && "$UDAX" umount "$mnt_u"
	mounted "$mnt_p" && umount "$mnt_p"
	[ -n "$ptpid" ] && wait "$ptpid"
	rmdir "$mnt_u" "$mnt_p" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
mkdir -p "$mnt_u" "$mnt_p" "$work/tmpfs" "$work/ptsrc"

pt_mount() {
	"$PT" "$work/ptsrc" "$mnt_p" &
	ptpid=$!
	for _ in $(seq 600); do
		mounted "$mnt_p" && return 0
		sleep 0.1
	done
	echo "mount: the pass-through did not mount" >&2
	exit 1
}
# both FUSE file systems afresh: nothing cached in the kernel
remount() {
	"$UDAX" umount "$mnt_u" && "$UDAX" mount "$img" "$mnt_u" || exit 1
	umount "$mnt_p" && wait "$ptpid" || exit 1
	pt_mount
}

tar -C "$(dirname "$TREE")" -cf "$work/tree.tar" "$(basename "$TREE")" || exit 1
files=$(tar -tf "$work/tree.tar" | wc -l)
mib=$(($(stat -c %s "$work/tree.tar") / 1048576))
"$UDAX" mkfs -q --size 2G "$img" || exit 1
"$UDAX" mount "$img" "$mnt_u" || exit 1
pt_mount
load0=$(cut -d' ' -f1-3 /proc/loadavg)

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

# each step: tmpfs, pass-through, udax
dirs="tmpfs:$work/tmpfs pt:$mnt_p udax:$mnt_u"
for r in $(seq "$REPS"); do
	for d in $dirs; do
		timed "x.${d%%:*}" sh -c "mkdir '${d#*:}/$r' && tar -C '${d#*:}/$r' -xf '$work/tree.tar'"
	done
	remount
	for d in $dirs; do
		timed "c.${d%%:*}" sh -c "tar -C '${d#*:}/$r' -cf - . | cat >/dev/null"
	done
	remount
	for d in $dirs; do
		timed "s.${d%%:*}" sh -c "cd '${d#*:}/$r' && find . -print0 | xargs -0 stat >/dev/null"
	done
	for d in $dirs; do
		timed "r.${d%%:*}" rm -r "${d#*:}/$r"
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

printf 'mount: %s (%d files, %d MiB), median of %d, seconds; %d CPUs, load average %s before, %s after\n' \
	"$TREE" "$files" "$mib" "$REPS" "$(nproc)" "$load0" "$load1"
printf '  %-20s %8s %14s %8s %12s\n' "" tmpfs pass-through udax "udax/pt [goal <= 0.50]"
rows=""
for op in "x:tar -x" "c:tar -c (fresh mount)" "s:find | xargs stat" "r:rm -r"; do
	k=${op%%:*}
	t=$(median "$k.tmpfs")
	p=$(median "$k.pt")
	u=$(median "$k.udax")
	ratio=$(awk -v u="$u" -v p="$p" 'BEGIN { printf "%.2f", (p > 0 ? u / p : 0) }')
	printf '  %-20s %8s %14s %8s %12s\n' "${op#*:}" "$t" "$p" "$u" "$ratio"
	rows="$rows${rows:+,}{\"what\": \"${op#*:}\", \"tmpfs\": $t, \"passthrough\": $p, \"udax\": $u}"
done
if [ -n "${MOUNT_JSON:-}" ]; then
	printf '{"benchmark": "mount", "tree": "%s", "files": %d, "mib": %d, "reps": %d, "cpus": %d, "loadavg_before": %s, "loadavg_after": %s, "rows": [%s]}\n' \
		"$TREE" "$files" "$mib" "$REPS" "$(nproc)" "${load0%% *}" \
		"${load1%% *}" "$rows" >"$MOUNT_JSON"
fi
