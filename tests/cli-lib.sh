# SPDX-License-Identifier: MIT
#
# cli-lib.sh - what the tests of the udax tool (tests/cli_*.sh) share:
# the tool's path, a work directory on /dev/shm removed at exit, and the
# checks. Sourced, not run. Each check prints "ok   DESC" or "FAIL DESC"
# (with what went wrong); a script ends with cli_summary.

set -u

UDAX=${UDAX:-build/udax}
case $UDAX in
/*) ;;
*) UDAX=$(pwd)/$UDAX ;;
esac
if [ ! -x "$UDAX" ]; then
	echo "$0: $UDAX: not an executable (build first, or set UDAX)" >&2
	exit 1
fi

shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/udax-cli-$$.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT PIPE TERM

failures=0
checks=0

# Report one check: pass "desc" if the last status was 0.
result() {
	checks=$((checks + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok   $2"
	else
		echo "FAIL $2"
		failures=$((failures + 1))
		if [ -s "$work/err" ]; then
			sed 's/^/     | /' "$work/err"
		fi
	fi
}

# expect STATUS DESC CMD...: run CMD, check its exit status.
expect() {
	want=$1
	desc=$2
	shift 2
	"$@" >"$work/stdout" 2>"$work/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		result 0 "$desc"
	else
		echo "     exit status $got, wanted $want" >>"$work/err"
		result 1 "$desc"
	fi
}

# expect_err STATUS TEXT DESC CMD...: as expect, and stderr holds TEXT.
expect_err() {
	want=$1
	text=$2
	desc=$3
	shift 3
	"$@" >"$work/stdout" 2>"$work/err"
	got=$?
	if [ "$got" -eq "$want" ] && grep -qF -- "$text" "$work/err"; then
		result 0 "$desc"
	else
		echo "     exit status $got (wanted $want); wanted stderr: $text" \
			>>"$work/err"
		result 1 "$desc"
	fi
}

# same DESC A B: the two files hold the same bytes.
same() {
	if cmp "$2" "$3" >"$work/err" 2>&1; then
		result 0 "$1"
	else
		result 1 "$1"
	fi
}

# cli_summary: the closing line; the script's exit status.
cli_summary() {
	echo "$checks checks, $failures failed"
	[ "$failures" -eq 0 ]
}
