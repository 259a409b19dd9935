#!/bin/sh
# SPDX-License-Identifier: MIT
#
# cli_output.sh - what the udax tool prints for people and for scripts:
# --json of ls, stat, df, info and fsck (parsed by python3; names that
# are not text round-trip), udax info on good, damaged and foreign
# images, progress bars (under a pseudo-terminal from script(1), never
# into a file), exit codes, and the man pages (groff, no warnings).
#
# Run from the repository root:  sh tests/cli_output.sh
# The tool is $UDAX (default build/udax). Exits 0 if every check passed,
# 1 otherwise; prints one line per check.

# shellcheck source=tests/cli-lib.sh
. "$(dirname "$0")/cli-lib.sh"

img=$work/t.img

if ! command -v python3 >/dev/null 2>&1; then
	echo "FAIL python3 is needed to parse --json (scripts/install-deps.sh)"
	exit 1
fi

# json_check DESC EXPR: stdout of the last command is one JSON document
# and the Python expression EXPR, with the document as d, is true.
json_check() {
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
' "$work/stdout" "$2" >"$work/err" 2>&1; then
		result 0 "$1"
	else
		{
			echo "     wanted: $2"
			sed -n '1,40p' "$work/stdout"
		} >>"$work/err"
		result 1 "$1"
	fi
}

# ---- an image with awkward names ----

src=$work/src
mkdir -p "$src/sub/deeper" || exit 1
# names with a newline, a quote, a backslash, a control character, a byte
# that is not UTF-8, and valid UTF-8 beyond ASCII
for name in "$(printf 'new\nline')" 'quo"te' 'back\slash' \
	"$(printf 'ctl\001x')" "$(printf 'latin1-\351')" "$(printf 'utf8-\303\251')"; do
	printf '%s' "$name" >"$src/$name" || exit 1
done
ln -s "$(printf 'target-\377')" "$src/link"
printf 'deep\n' >"$src/sub/deeper/file"
touch -d '2001-02-03 04:05:06.123456789' "$src/quo\"te"

expect 0 "mkfs" "$UDAX" mkfs -q --size 64M "$img"
expect 0 "cp -r the awkward names in" "$UDAX" cp -r "$src" "$img:/src"

# ---- --json ----

expect 0 "ls --json" "$UDAX" ls --json "$img:/src"
# every name of the directory, taken as bytes (name_hex where present),
# is exactly one of the host's
json_check "ls --json: names round-trip as bytes (newline, quote, non-UTF-8)" "
sorted(bytes.fromhex(e['name_hex']) if 'name_hex' in e
       else e['name'].encode() for e in d['directories'][0]['entries'])
== sorted(__import__('os').listdir(b'$src'))"
json_check "ls --json: a name that is not UTF-8 has name_hex, others not" "
[e['name'] for e in d['directories'][0]['entries'] if 'name_hex' in e]
== ['latin1-\ufffd']"
json_check "ls --json: entry types" "
{e['name']: e['type'] for e in d['directories'][0]['entries']}['sub']
== 'directory' and d['files'] == []"

expect 0 "ls -l --json" "$UDAX" ls -l --json "$img:/src"
json_check "ls -l --json: sizes, modes and symlink targets (as bytes)" "
(lambda e: e['quo\"te']['size'] == 6 and e['quo\"te']['type'] == 'regular'
 and e['sub']['mode'] == 0o$(stat -c %a "$src/sub")
 and bytes.fromhex(e['link']['target_hex']) == b'target-\xff')(
{x['name']: x for x in d['directories'][0]['entries']})"

expect 0 "ls -R --json" "$UDAX" ls -R --json "$img:/src"
json_check "ls -R --json: one object per directory, in order" "
[x['path'] for x in d['directories']]
== ['/src', '/src/sub', '/src/sub/deeper']"

expect 0 "stat --json" "$UDAX" stat --json "$img:/src/quo\"te" "$img:/src/link"
json_check "stat --json: status and exact times" "
d['files'][0]['path'] == '/src/quo\"te' and d['files'][0]['size'] == 6
and d['files'][0]['mtime']['nsec'] == 123456789
and d['files'][0]['mtime']['sec'] == $(date -d '2001-02-03 04:05:06' +%s)
and d['files'][1]['type'] == 'symlink' and d['files'][0]['nlink'] == 1"

expect 0 "df --json" "$UDAX" df --json "$img"
json_check "df --json: sizes in bytes, inode counts" "
d['images'][0]['image'] == '$img' and d['images'][0]['size_bytes'] == 64 << 20
and 0 < d['images'][0]['used_bytes'] < 64 << 20
and d['images'][0]['inodes_used'] == 12
and d['images'][0]['inodes'] == d['images'][0]['inodes_used']
    + d['images'][0]['inodes_free']"
expect_err 1 "$work/none.img" "df --json of a missing image: exit 1" \
	"$UDAX" df --json "$work/none.img"
json_check "df --json of a missing image: still a document" "
d == {'images': []}"

# ---- info ----

# seal_super IMG FIELD=VALUE...: rewrite superblock fields (offsets of
# docs/FORMAT.md) and its crc32c, to make a well-sealed odd superblock.
# journal_tx IMG: write one committed, empty transaction at the start of
# the journal log, as a crash would leave one.
py_image() {
	python3 - "$@" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xffffffff
what, path = sys.argv[1], sys.argv[2]
with open(path, 'r+b') as f:
    sb = bytearray(f.read(4096))
    if what == 'journal_tx':
        h = struct.pack('<IIQIIQ16sQQ', 0x4c4a5855, 0, 7, 0, 0, 64,
                        bytes(sb[24:40]), 0, 0)
        h = h[:4] + struct.pack('<I', crc32c(h)) + h[8:]
        f.seek(2 * 4096)
        f.write(h)
    elif what == 'version':
        sb[8:12] = struct.pack('<I', int(sys.argv[3]))
        sb[4092:4096] = b'\0\0\0\0'
        sb[4092:4096] = struct.pack('<I', crc32c(bytes(sb)))
        f.seek(0)
        f.write(sb)
PY
}

fresh=$work/fresh.img
expect 0 "mkfs a fresh image" "$UDAX" mkfs -q --size 16M "$fresh"
expect 0 "info of a fresh image" "$UDAX" info "$fresh"
for line in 'State: *clean$' 'Open by: *nobody$' 'Format version: *1$' \
	'Block size: *4096$' 'Block count: *4096 (16M)$' \
	'Features (incompat): *(none)$' 'Journal: *blocks 2-.*, empty$' \
	'Inodes used: *1$' 'UUID: *[0-9a-f]\{8\}-[0-9a-f]\{4\}-'; do
	grep -q "^$line" "$work/stdout"
	result $? "info shows '$line'"
done
expect 0 "info --json of a fresh image" "$UDAX" info --json "$fresh"
json_check "info --json: geometry, usage from the bitmaps, state" "
d['state'] == 'clean' and d['block_count'] == 4096 and d['inode_count']
== d['inodes_used'] + d['inodes_free'] and d['inodes_used'] == 1
and d['blocks_used'] == d['data_start'] + 1 and d['damage'] is None
and d['features'] == {'compat': [], 'incompat': [], 'ro_compat': ['xattr', 'special_files']}
and d['open_by'] == {'writer': None, 'readers': []}
and d['backup_superblock'] == 4095 and d['journal']['start'] == 2"

expect 0 "info --json of a used image" "$UDAX" info --json "$img"
inodes=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["inodes_used"])' \
	<"$work/stdout")
expect 0 "df --json of the same image" "$UDAX" df --json "$img"
json_check "info and df count the same inodes in use ($inodes)" "
d['images'][0]['inodes_used'] == ${inodes:-0}"

expect 0 "info of an image a writer holds" \
	flock -x "$fresh" "$UDAX" info --json "$fresh"
json_check "info --json: a writer's lock is seen" "
d['state'] == 'in_use' and d['open_by']['writer'] > 0"
expect 0 "info of an image two readers hold" \
	flock -s "$fresh" flock -s "$fresh" "$UDAX" info "$fresh"
grep -q '^Open by: *2 readers (pids [0-9]*, [0-9]*)$' "$work/stdout" &&
	grep -q '^State: *clean$' "$work/stdout"
result $? "info: readers are listed, the image is still clean"

py_image journal_tx "$fresh"
cp "$fresh" "$work/before.img"
expect 0 "info of an image whose journal needs replay" "$UDAX" info "$fresh"
grep -q '^State: *needs recovery (journal: 1 committed' "$work/stdout"
result $? "info: needs recovery, with the number of transactions"
same "info writes nothing" "$work/before.img" "$fresh"
expect 0 "a read-write open replays the journal" "$UDAX" mkdir "$fresh:/d"
expect 0 "info after the replay" "$UDAX" info --json "$fresh"
json_check "info --json: clean again" "
d['state'] == 'clean' and d['journal_transactions'] == 0
and d['inodes_used'] == 2"

cp "$fresh" "$work/bitmap.img"
expect 0 "info shows the block bitmap" "$UDAX" info "$fresh"
blk=$(sed -n 's/^Block bitmap: *block \([0-9]*\)$/\1/p' "$work/stdout")
dd if=/dev/zero of="$work/bitmap.img" bs=4096 seek="${blk:-0}" count=1 \
	conv=notrunc 2>/dev/null
expect_err 1 "block bitmap block $blk is damaged" \
	"info of a damaged bitmap: exit 1, names the block" \
	"$UDAX" info "$work/bitmap.img"
grep -q "^State: *damaged: block bitmap block $blk" "$work/stdout"
result $? "info of a damaged bitmap still shows the superblock and the state"

cp "$fresh" "$work/primary.img"
dd if=/dev/zero of="$work/primary.img" bs=64 count=1 conv=notrunc 2>/dev/null
expect_err 1 "the backup at block 4095 is good: 'udax fsck -y' restores it" \
	"info of a damaged primary superblock: refused, names the backup" \
	"$UDAX" info "$work/primary.img"
[ ! -s "$work/stdout" ]
result $? "a refused image prints nothing on stdout"
cp "$fresh" "$work/version.img"
py_image version "$work/version.img" 2
expect_err 1 "format version 2, this udax reads version 1" \
	"info of a newer format: refused, names the versions" \
	"$UDAX" info "$work/version.img"
head -c 8M /dev/zero >"$work/zero.img"
expect_err 1 "not a udax file system (bad magic number)" \
	"info of an image of zeros: refused" "$UDAX" info "$work/zero.img"
expect_err 1 "not a udax file system" "info of a foreign file: refused" \
	"$UDAX" info "$UDAX"
head -c 100 /dev/zero >"$work/tiny.img"
expect_err 1 "too small to hold a udax file system" \
	"info of a tiny file: refused" "$UDAX" info "$work/tiny.img"
expect_err 1 "No such file or directory" "info of a missing image: exit 1" \
	"$UDAX" info "$work/none.img"
expect_err 2 "missing image operand" "info without an image: exit 2" \
	"$UDAX" info
expect_err 2 "extra operand" "info with two images: exit 2" \
	"$UDAX" info "$fresh" "$img"

# ---- fsck ----

expect 0 "fsck of a clean image: 0" "$UDAX" fsck "$fresh"
expect 0 "fsck --json of a clean image" "$UDAX" fsck --json "$fresh"
json_check "fsck --json: six passes, no problems, exit code 0" "
[p['pass'] for p in d['passes']] == [0, 1, 2, 3, 4, 5]
and all(p['problems'] == [] for p in d['passes'])
and d['problems_found'] == 0 and d['exit_code'] == 0
and d['mode'] == 'check' and d['error'] is None and d['files'] == 2"
cp "$work/bitmap.img" "$work/fsck.img"
expect 4 "fsck -n of a damaged image: 4" "$UDAX" fsck -n "$work/fsck.img"
expect 4 "fsck -n --json of a damaged image: 4" \
	"$UDAX" fsck -n --json "$work/fsck.img"
json_check "fsck --json: the problem, in its pass, not fixed" "
[(q['code'], q['fixed']) for q in d['passes'][5]['problems']]
== [('0x050001', False)] and d['problems_left'] == 1
and d['exit_code'] == 4 and not d['modified']"
expect 1 "fsck -y of a damaged image: 1" "$UDAX" fsck -y --json "$work/fsck.img"
json_check "fsck -y --json: fixed, modified" "
d['passes'][5]['problems'][0]['fixed'] and d['problems_fixed'] == 1
and d['exit_code'] == 1 and d['modified'] and d['mode'] == 'repair'"
expect 0 "fsck -n after the repair: 0" "$UDAX" fsck -n "$work/fsck.img"
expect_err 8 "in use" "fsck of an image a writer holds: 8" \
	flock -x "$fresh" "$UDAX" fsck -n "$fresh"
expect_err 8 "in use" "fsck -y of an image a reader holds: 8" \
	flock -s "$fresh" "$UDAX" fsck -y "$fresh"
expect 8 "fsck --json of an image a writer holds: 8" \
	flock -x "$fresh" "$UDAX" fsck --json "$fresh"
json_check "fsck --json of an operational error: the error, no passes" "
d['exit_code'] == 8 and 'in use' in d['error'] and d['passes'] == []"
expect_err 8 "not a udax file system" "fsck of zeros: 8" \
	"$UDAX" fsck "$work/zero.img"
expect 8 "fsck of a missing image: 8" "$UDAX" fsck "$work/none.img"
expect 16 "fsck -n -y: 16" "$UDAX" fsck -n -y "$fresh"
expect 16 "fsck without an image: 16" "$UDAX" fsck
expect 16 "fsck with an unknown option: 16" "$UDAX" fsck --frobnicate "$fresh"

# ---- exit codes of the other commands ----

for cmd in mkfs ls stat cat cp mkdir rm mv df info bench fsck; do
	expect 0 "$cmd --help" "$UDAX" "$cmd" --help
	grep -q '^Exit status' "$work/stdout"
	result $? "$cmd --help documents the exit status"
done
for cmd in mkfs ls stat cat cp mkdir rm mv df info bench; do
	expect 2 "$cmd with an unknown option: 2" "$UDAX" "$cmd" --frobnicate
done
for b in faults pins share serve; do
	expect 0 "bench $b --help" "$UDAX" bench "$b" --help
	expect 2 "bench $b with an unknown option: 2" "$UDAX" bench "$b" \
		--frobnicate
done
expect 2 "bench serve --seconds 0: 2" "$UDAX" bench serve --seconds 0
for cmd in ls stat cat df info; do
	expect_err 1 "$work/none.img" "$cmd of a missing image: 1" \
		"$UDAX" "$cmd" "$work/none.img:/x"
done
for cmd in mkdir rm; do
	expect_err 1 "$work/none.img" "$cmd in a missing image: 1" \
		"$UDAX" "$cmd" "$work/none.img:/x"
done
expect 1 "mv in a missing image: 1" "$UDAX" mv "$work/none.img:/x" \
	"$work/none.img:/y"
expect 1 "cp out of a missing image: 1" "$UDAX" cp "$work/none.img:/x" \
	"$work/x"

# ---- progress bars ----

# on_tty OUT CMD: run the shell command CMD with a pseudo-terminal as its
# standard input, output and error (script(1)); OUT gets what it wrote
on_tty() {
	script -qec "$2" /dev/null </dev/null >"$1" 2>&1
}

# bar_check DESC CAPTURE LABEL: the capture holds a bar (LABEL and '[')
# drawn at most ten times a second plus the first, erased at its end:
# the last bar is followed by CR ESC [K. SECONDS is how long it ran.
bar_check() {
	if python3 - "$2" "$3" "$SECONDS_RAN" >"$work/err" 2>&1 <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
label = b'\r' + sys.argv[2].encode() + b' ['
frames = data.count(label)
last = data.rfind(label)
erased = data.find(b'\r\x1b[K', last) > last
allowed = 2 + 10 * float(sys.argv[3])
print('frames %d (at most %.0f), erased %s' % (frames, allowed, erased))
sys.exit(0 if frames >= 1 and frames <= allowed and erased else 1)
PY
	then
		result 0 "$1"
	else
		cat -v "$2" | head -c 600 >>"$work/err"
		result 1 "$1"
	fi
}

# timed_tty OUT CMD: on_tty, and SECONDS_RAN gets the elapsed time
timed_tty() {
	t0=$(date +%s%N)
	on_tty "$@"
	SECONDS_RAN=$(( ($(date +%s%N) - t0) / 1000000 ))e-3
}

big=$work/big
mkdir "$big" || exit 1
head -c 16M /dev/urandom >"$big/f0"
for i in 1 2 3; do ln "$big/f0" "$big/f$i"; done
ln -s f0 "$big/link"
expect 0 "mkfs for the copies" "$UDAX" mkfs -q --size 384M "$work/cp.img"
timed_tty "$work/tty.out" "'$UDAX' cp -r '$big' '$work/cp.img:/a'"
result $? "cp -r under a terminal"
bar_check "cp -r draws a throttled bar and erases it" "$work/tty.out" copying
grep -q '5/5 files\|[0-9]/5 files, [0-9.]*M/64M' "$work/tty.out"
result $? "the bar counts files and bytes of the whole copy"
on_tty "$work/tty.out" "'$UDAX' cp -r '$big' '$work/cp.img:/b' 2>'$work/bar.err'"
result $? "cp -r with only stdout on a terminal"
[ ! -s "$work/bar.err" ] && ! grep -q 'copying' "$work/tty.out"
result $? "no bar when standard error is a file"
on_tty "$work/tty.out" "'$UDAX' cp -rq '$big' '$work/cp.img:/c'"
! grep -q 'copying' "$work/tty.out"
result $? "no bar with cp -q"
"$UDAX" cp -r "$big" "$work/cp.img:/d" >"$work/stdout" 2>"$work/bar.err"
[ ! -s "$work/bar.err" ] && [ ! -s "$work/stdout" ]
result $? "cp -r without a terminal prints nothing"
expect 0 "the copies are whole" "$UDAX" cat "$work/cp.img:/d/f3"
same "a copied file" "$big/f3" "$work/stdout"

timed_tty "$work/tty.out" "'$UDAX' fsck '$work/cp.img'"
result $? "fsck under a terminal"
bar_check "fsck draws a bar and erases it" "$work/tty.out" "Pass 0"
grep -q 'Pass 1: Checking inodes' "$work/tty.out"
result $? "fsck's report is on the terminal too"
on_tty "$work/tty.out" "'$UDAX' fsck --json '$work/cp.img'"
! grep -q 'Pass 1 \[' "$work/tty.out"
result $? "no bar with fsck --json"
on_tty "$work/tty.out" "'$UDAX' fsck -q '$work/cp.img'"
! grep -q 'Pass 1 \[' "$work/tty.out"
result $? "no bar with fsck -q"

timed_tty "$work/tty.out" "'$UDAX' mkfs -f --size 128M '$work/mkfs.img'"
result $? "mkfs under a terminal"
bar_check "mkfs draws a bar while it zeroes the metadata" "$work/tty.out" \
	"zeroing the metadata"
on_tty "$work/tty.out" "'$UDAX' mkfs -q -f --size 128M '$work/mkfs.img'"
[ ! -s "$work/tty.out" ]
result $? "mkfs -q prints nothing, not even a bar"

# ---- man pages ----

man=$(dirname "$0")/../man
for cmd in mkfs fsck info ls stat cat cp mkdir rm mv df bench mount serve; do
	page=$(ls "$man/udax-$cmd".[18] 2>/dev/null | head -n 1)
	[ -n "$page" ] && grep -q '^\.SH EXIT STATUS' "$page"
	result $? "udax $cmd has a man page with its exit status"
done
if command -v groff >/dev/null 2>&1; then
	for page in "$man"/*.[18]; do
		groff -man -ww -z "$page" >"$work/err" 2>&1 && [ ! -s "$work/err" ]
		result $? "$(basename "$page") renders without warnings"
	done
else
	echo "FAIL groff is needed to check the man pages (scripts/install-deps.sh)"
	failures=$((failures + 1))
fi

cli_summary
