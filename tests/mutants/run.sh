#!/bin/sh
# tests/mutants/run.sh [NAME...] - make mutants: apply each mutant of
# tests/mutants/*.mut (or only those named) to a scratch copy of the tree,
# build once, run only the tests it names, and print one row per mutant:
# name, caught or not, by which test, seconds. Exit 1 if any was missed.
#
# A mutant file has one field per line:
#   never: what the code must never do (the rule the mutant breaks)
#   breaks: what goes wrong for a user when it does
#   file: the source file it changes (one)
#   sed: a sed expression applied to that file (one or more lines)
#   test: a shell command run in the tree that must fail (one or more;
#         tried in order, the first that fails catches it)
# Variables: UDAX_MUTANTS_DIR (scratch directory, default a new one under
# /tmp, removed at the end), UDAX_MUTANTS_TIMEOUT (seconds per test, 900).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
own_work=0
work=${UDAX_MUTANTS_DIR:-}
if [ -z "$work" ]; then
	work=$(mktemp -d /tmp/udax-mutants.XXXXXX)
	own_work=1
fi
limit=${UDAX_MUTANTS_TIMEOUT:-900}
tree=$work/tree
log=$work/log
cleanup() { [ $own_work = 1 ] && rm -rf "$work"; }
trap cleanup EXIT

if [ $# -gt 0 ]; then
	list=""
	for n in "$@"; do list="$list $top/tests/mutants/${n%.mut}.mut"; done
else
	list=$(ls "$top"/tests/mutants/*.mut)
fi

mkdir -p "$tree"
rsync -a --delete --exclude '/build*' --exclude '.git' "$top/" "$tree/"
echo "# mutants: building the scratch tree $tree"
if ! (cd "$tree" && nice -n 10 make -j2 tests) >"$log" 2>&1; then
	tail -n 20 "$log"
	echo "the unmutated tree does not build"
	exit 1
fi

field() { sed -n "s/^$1: //p" "$2"; }

n=0
caught=0
missed=""
printf '%-30s %-7s %-52s %5s\n' mutant caught "by test" seconds
for m in $list; do
	name=$(basename "$m" .mut)
	file=$(field file "$m")
	t0=$(date +%s)
	n=$((n + 1))
	status=no
	by=""
	cp "$top/$file" "$tree/$file"
	while IFS= read -r line; do
		case $line in
		"sed: "*) sed -i -e "${line#sed: }" "$tree/$file" ;;
		esac
	done <"$m"
	if cmp -s "$top/$file" "$tree/$file"; then
		by="(the sed changed nothing: fix the mutant)"
	elif ! (cd "$tree" && nice -n 10 make -j2 tests) >"$log" 2>&1; then
		grep -m 3 'error' "$log" >&2
		by="(the mutant does not build: fix it)"
	else
		tests=$(field test "$m")
		# one command per line
		while IFS= read -r cmd; do
			[ -n "$cmd" ] || continue
			if ! (cd "$tree" && nice -n 10 timeout "$limit" sh -c "$cmd") \
				>"$log" 2>&1; then
				status=yes
				by=$(echo "$cmd" | sed 's|build/tests/||')
				break
			fi
		done <<TESTS
$tests
TESTS
		[ $status = no ] && by="(none of: $(echo "$tests" | sed 's|build/tests/||' | tr '\n' ';'))"
	fi
	cp "$top/$file" "$tree/$file"
	t1=$(date +%s)
	if [ $status = yes ]; then
		caught=$((caught + 1))
	else
		missed="$missed $name"
	fi
	printf '%-30s %-7s %-52s %5s\n' "$name" "$status" "$by" $((t1 - t0))
done
echo "$n mutants, $caught caught, $((n - caught)) missed${missed:+:$missed}"
[ $caught = $n ]
