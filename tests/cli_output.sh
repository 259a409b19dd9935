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

cli_summary
