#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_mount.sh - `udax mount` end to end: a scripted session of ordinary
# tools on a mounted image, a second user, the multi-user conformance
# check against tmpfs (tests/posix_users.c, which also covers issue 14's
# items 1-7: special files, xattrs and an ACL, so the mount runs with
# -o posix_acl,dev), a file handle across a remount, a clean SIGTERM,
# kill -9 of the daemon in the middle of a workload, and fsck after each.
#
# Run from the repository root, as root:  sh tests/t_mount.sh
# The tool is $UDAX (default build/udax); posix_users is looked for next
# to it ($POSIX_USERS overrides). Prints one line per check ("ok ..." or
# "FAIL ..."); exits 0 if all passed, 1 if any failed, and 77 after
# printing "SKIP mount: <reason>" when FUSE cannot be used here.

set -u

UDAX=${UDAX:-build/udax}
case $UDAX in
/*) ;;
*) UDAX=$(pwd)/$UDAX ;;
esac
POSIX_USERS=${POSIX_USERS:-$(dirname "$UDAX")/tests/posix_users}
repo=$(pwd)

skip() {
	echo "SKIP mount: $*"
	exit 77
}

[ -x "$UDAX" ] || { echo "t_mount: $UDAX: not an executable" >&2; exit 1; }
[ -c /dev/fuse ] || skip "/dev/fuse is absent"
[ "$(id -u)" = 0 ] || skip "needs root (a second user and allow_other)"
for t in fusermount3 setpriv sqlite3 git rsync tar; do
	command -v $t >/dev/null || skip "$t is not installed"
done

shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/udax-mount.$$.XXXXXX") || exit 1
mnt=/tmp/udax-mnt.$$
img=$work/t.img
daemon=""
load=""
failures=0
checks=0

is_mounted() {
	awk -v m="$mnt" '$5 == m && / - fuse\.udax /' /proc/self/mountinfo |
		grep -q .
}

cleanup() {
	[ -n "$load" ] && kill -9 "$load" 2>/dev/null
	if is_mounted; then
		"$UDAX" umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null
	rmdir "$mnt" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
mkdir -p "$mnt" "$work/tmpfs" "$work/out" || exit 1

# result STATUS DESC: one check line.
result() {
	checks=$((checks + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok   $2"
	else
		echo "FAIL $2"
		failures=$((failures + 1))
		[ -s "$work/err" ] && sed 's/^/     | /' "$work/err" | tail -n 20
	fi
	: >"$work/err"
}

# check DESC CMD...: CMD must succeed.
check() {
	desc=$1
	shift
	"$@" >"$work/out.txt" 2>"$work/err"
	rc=$?
	[ $rc -eq 0 ] || cat "$work/out.txt" "$work/err" | head -n 20 | sed 's/^/    /'
	result $rc "$desc"
}

# check_out DESC WANT CMD...: CMD succeeds and prints exactly WANT.
check_out() {
	desc=$1
	want=$2
	shift 2
	got=$("$@" 2>"$work/err")
	rc=$?
	if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
		result 0 "$desc"
	else
		echo "     got '$got' (exit $rc), wanted '$want'" >>"$work/err"
		result 1 "$desc"
	fi
}

# check_fail DESC TEXT CMD...: CMD fails and its stderr holds TEXT.
check_fail() {
	desc=$1
	text=$2
	shift 2
	"$@" >"$work/out.txt" 2>"$work/err"
	rc=$?
	if [ $rc -ne 0 ] && grep -qF -- "$text" "$work/err"; then
		: >"$work/err"
		result 0 "$desc"
	else
		echo "     exit $rc; wanted a failure saying '$text'" >>"$work/err"
		result 1 "$desc"
	fi
}

as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# mount_fg LOG: mount in the foreground, in the background of this
# script, and wait until it is up. Sets $daemon. Skips the test when the
# very first mount is not permitted here.
mount_fg() {
	"$UDAX" mount -f -o allow_other,posix_acl,dev "$img" "$mnt" 2>"$1" &
	daemon=$!
	# (up to 120 s: a loaded machine is slow, a failed mount exits)
	for _ in $(seq 1200); do
		is_mounted && return 0
		kill -0 "$daemon" 2>/dev/null || break
		sleep 0.1
	done
	kill "$daemon" 2>/dev/null
	wait "$daemon" 2>/dev/null
	daemon=""
	return 1
}

# sanitizer_clean LOG: the daemon's stderr holds no sanitizer report.
sanitizer_clean() {
	! grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$1"
}

fsck_clean() {
	check "$1" "$UDAX" fsck -n "$img"
}

# ---- mount ----

"$UDAX" mkfs -q --size 512M "$img" || exit 1
if ! mount_fg "$work/daemon1.log"; then
	if grep -qiE 'permission|not permitted|fuse: device not found' \
		"$work/daemon1.log"; then
		skip "mounting is not permitted: $(tail -n 1 "$work/daemon1.log")"
	fi
	echo "FAIL mount: $(cat "$work/daemon1.log")"
	exit 1
fi
echo "ok   mounted $img on $mnt (pid $daemon)"
check_out "df names the image and the type" "$img fuse.udax" \
	sh -c "df --output=source,fstype '$mnt' | tail -n 1 | tr -s ' ' | sed 's/ $//'"

# ---- coreutils ----

m=$mnt
check "mkdir -p" mkdir -p "$m/a/b/c"
check "cp -a of a source folder" cp -a "$repo/src" "$m/a/src"
check "the copy is identical (diff -r)" diff -r "$repo/src" "$m/a/src"
check "mv a file" mv "$m/a/src/fs.h" "$m/a/b/fs.h"
check_out "moved file is gone from its old place" "no" \
	sh -c "test -e '$m/a/src/fs.h' && echo yes || echo no"
check "ln (hard link)" ln "$m/a/b/fs.h" "$m/a/b/fs-link.h"
check_out "both names count two links" "2 2" \
	sh -c "echo \$(stat -c %h '$m/a/b/fs.h' '$m/a/b/fs-link.h')"
check_out "both names have one inode number" "1" \
	sh -c "stat -c %i '$m/a/b/fs.h' '$m/a/b/fs-link.h' | uniq | wc -l"
check "ln -s" ln -s b/fs.h "$m/a/c-link"
check_out "readlink" "b/fs.h" readlink "$m/a/c-link"
check "cat through the symlink" cmp "$m/a/c-link" "$repo/src/fs.h"
check "chmod" chmod 0640 "$m/a/b/fs.h"
check_out "stat shows the mode" "640 root root" \
	stat -c '%a %U %G' "$m/a/b/fs.h"
check "touch -d" touch -d '2001-02-03 04:05:06 UTC' "$m/a/b/fs.h"
check_out "stat shows the mtime" "981173106" stat -c %Y "$m/a/b/fs.h"
check "truncate -s 10M" truncate -s 10M "$m/sparse"
check_out "a truncated-up file has no blocks" "10485760 0" \
	stat -c '%s %b' "$m/sparse"
check "fallocate -l 4M" fallocate -l 4M "$m/alloc"
# st_blocks counts the extent tree's blocks too (as ext4 does)
check_out "fallocate allocated 4 MiB" "4194304 yes" \
	sh -c "stat -c '%s %b' '$m/alloc' | { read s b; [ \$b -ge 8192 ] && [ \$b -le 8208 ] && echo \$s yes; }"
check "write 1 MiB of data" sh -c \
	"head -c 1048576 /dev/urandom > '$work/rand' && cp '$work/rand' '$m/data'"
blocks_before=$(stat -c %b "$m/data")
check "fallocate -p (punch hole, keep size)" \
	fallocate -p -o 4096 -l 65536 "$m/data"
check_out "punched: size kept, 64 KiB freed" "1048576 128" \
	sh -c "stat -c '%s %b' '$m/data' | { read s b; echo \$s \$(($blocks_before - b)); }"
check "punched range reads zeros" sh -c \
	"dd if='$m/data' bs=4096 skip=1 count=16 2>/dev/null | cmp -n 65536 - /dev/zero"
check "fallocate -z (zero range)" \
	fallocate -z -o 131072 -l 8192 "$m/data"
check "zeroed range reads zeros" sh -c \
	"dd if='$m/data' bs=4096 skip=32 count=2 2>/dev/null | cmp -n 8192 - /dev/zero"
check "the rest is untouched" sh -c \
	"cmp -n 4096 '$m/data' '$work/rand' && cmp -i 139264 '$m/data' '$work/rand'"
check_out "SEEK_HOLE finds the punched hole" "4096" \
	python3 -c "import os;f=os.open('$m/data',os.O_RDONLY);print(os.lseek(f,0,os.SEEK_HOLE))"
check "copy_file_range of 1 MiB" \
	python3 -c "import os;a=os.open('$m/data',os.O_RDONLY);b=os.open('$m/copy',os.O_WRONLY|os.O_CREAT,0o644);n=os.copy_file_range(a,b,1<<20);assert n==1<<20,n"
check "the copied file matches" cmp "$m/data" "$m/copy"
check_out "statfs (df) sees the used space" "yes" \
	sh -c "[ \$(df --output=used -k '$m' | tail -n 1) -gt 1000 ] && echo yes"
check "rm -r" rm -r "$m/a"
check_out "rm -r removed everything" "no" \
	sh -c "test -e '$m/a' && echo yes || echo no"

# ---- tar in and out ----

check "tar of src, include, tests into the mount" sh -c \
	"mkdir '$m/tree' && tar -C '$repo' -cf - src include tests | tar -C '$m/tree' -xf -"
check "diff -r of the tree in the mount" sh -c \
	"diff -r '$repo/src' '$m/tree/src' && diff -r '$repo/include' '$m/tree/include' && diff -r '$repo/tests' '$m/tree/tests'"
check "tar back out of the mount" sh -c \
	"tar -C '$m/tree' -cf - . | tar -C '$work/out' -xf -"
check "diff -r of the tree out of the mount" sh -c \
	"diff -r '$repo/src' '$work/out/src' && diff -r '$repo/tests' '$work/out/tests'"
check "rsync -a into the mount" rsync -a "$repo/src/" "$m/rsync/"
check "rsync: nothing left to transfer" sh -c \
	"[ -z \"\$(rsync -ai '$repo/src/' '$m/rsync/')\" ]"

# ---- git ----

check "git init, add, commit" sh -c \
	"cd '$m/tree' && git init -q && git add . && git -c user.name=t -c user.email=t@example.com commit -qm 'udax mount test'"
check_out "git log" "udax mount test" \
	sh -c "cd '$m/tree' && git log --format=%s"
check_out "git status is clean" "" \
	sh -c "cd '$m/tree' && git status --porcelain"
check "git fsck" sh -c "cd '$m/tree' && git fsck --strict"

# ---- sqlite3 ----

check "sqlite3 create table, insert" sqlite3 "$m/db.sqlite" \
	"create table t(id integer primary key, name text); insert into t(name) values ('a'), ('b'), ('c');"
check_out "sqlite3 select" "3|a,b,c" sqlite3 "$m/db.sqlite" \
	"select count(*), group_concat(name) from t;"
check_out "sqlite3 integrity_check" "ok" sqlite3 "$m/db.sqlite" \
	"pragma integrity_check;"

# ---- a second user ----

check "root makes a world-writable sticky folder" sh -c \
	"mkdir '$m/pub' && chmod 1777 '$m/pub' && mkdir -m 0755 '$m/rootonly'"
check "nobody creates files there" as_nobody sh -c \
	"echo mine > '$m/pub/nob' && mkdir '$m/pub/nobdir' && ln -s nob '$m/pub/nobln'"
check_out "they belong to nobody (65534)" "65534:65534 65534:65534 65534:65534" \
	sh -c "echo \$(stat -c %u:%g '$m/pub/nob' '$m/pub/nobdir'; stat -c %u:%g '$m/pub/nobln')"
check_fail "nobody may not write into root's 0755 folder (EACCES)" \
	"Permission denied" as_nobody sh -c "echo x > '$m/rootonly/f'"
touch "$m/pub/rootfile"
check_fail "nobody may not remove root's file in the sticky folder" \
	"Operation not permitted" as_nobody rm -f "$m/pub/rootfile"
check "posix_users: root and nobody on the mount and on tmpfs agree" \
	sh -c "chmod 755 '$work/tmpfs' && '$POSIX_USERS' '$m' '$work/tmpfs' > '$work/posix.out' || { grep -v '^same' '$work/posix.out'; exit 1; }"
tail -n 1 "$work/posix.out"

# ---- unmount, fsck ----

check "udax umount" "$UDAX" umount "$mnt"
wait "$daemon"
result $? "the daemon exited 0 after unmounting"
daemon=""
check "the daemon reported no sanitizer error" sanitizer_clean "$work/daemon1.log"
fsck_clean "fsck -n after the session is clean"

# ---- errors ----

head -c 8M /dev/zero >"$work/bad.img"
check_fail "a damaged image is refused, naming what is wrong" \
	"bad magic number" "$UDAX" mount "$work/bad.img" "$mnt"
check_fail "fsck says the same of it" "bad magic number" \
	"$UDAX" fsck -n "$work/bad.img"
check_fail "umount of a folder that is no udax mount" "not a udax mount" \
	"$UDAX" umount "$work"

# ---- daemon mode, then SIGTERM ----

check "udax mount detaches (no -f)" "$UDAX" mount "$img" "$mnt"
check_out "the data is there after remounting" "mine" cat "$m/pub/nob"
check "name_to_handle_at of a file" \
	"$POSIX_USERS" --handle-save "$m/pub/nob" "$work/handle"
check "umount of a detached daemon" "$UDAX" umount "$mnt"
check "the image can be opened right after umount" "$UDAX" ls "$img:/"
if mount_fg "$work/daemon2.log"; then
	# node ids are inode numbers with generations: a handle outlives
	# the mount that made it, as on a kernel file system (NFS exports)
	check_out "open_by_handle_at after a remount" "mine" \
		"$POSIX_USERS" --handle-open "$m" "$work/handle"
	exec 3<"$m/db.sqlite"
	check "SIGTERM with a file open" kill -TERM "$daemon"
	wait "$daemon"
	result $? "the daemon exits 0 on SIGTERM"
	daemon=""
	exec 3<&-
	check_out "SIGTERM unmounted" "no" \
		sh -c "awk '\$5 == \"$mnt\"' /proc/self/mountinfo | grep -q . && echo yes || echo no"
	is_mounted && umount -l "$mnt"
	check "the daemon reported no sanitizer error" sanitizer_clean \
		"$work/daemon2.log"
	fsck_clean "fsck -n after SIGTERM is clean"
else
	result 1 "mount again for SIGTERM"
fi

# ---- kill -9 in the middle of a workload ----

if mount_fg "$work/daemon3.log"; then
	check "a durable file before the crash" sh -c \
		"echo kept > '$m/kept' && sync '$m/kept'"
	mkdir -p "$m/load"
	(
		i=0
		while [ $i -lt 100000 ]; do
			tar -C "$repo" -cf - src 2>/dev/null |
				tar -C "$m/load" -xf - 2>/dev/null || exit 0
			mv "$m/load/src" "$m/load/s$i" 2>/dev/null || exit 0
			i=$((i + 1))
		done
	) &
	load=$!
	sleep 2
	check "kill -9 of the daemon mid-workload" kill -9 "$daemon"
	wait "$daemon" 2>/dev/null
	daemon=""
	sleep 0.5
	kill -9 "$load" 2>/dev/null
	wait "$load" 2>/dev/null
	load=""
	check "udax umount of the dead mount" "$UDAX" umount "$mnt"
	fsck_clean "fsck -n after kill -9 is clean"
	check_out "the durable file survived" "kept" \
		"$UDAX" cat "$img:/kept"
else
	result 1 "mount again for kill -9"
fi

echo "t_mount: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
