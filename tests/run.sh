#!/bin/sh
# tests/run.sh BUILD... - run the suite built in each BUILD directory and
# print one closing line "N passed, N failed, N skipped" (CI reads it).
# Each test program prints PASS/FAIL/SKIP lines (tests/test.h); programs
# that are one test (difftest, the CLI round trip, the mount session
# tests/t_mount.sh, the NFS export tests/t_nfs.sh, the HTTP server
# tests/t_serve.sh) count as one.
# Variables: UDAX_DIFFTEST_OPS (default 200000 in the first build, 50000
# in later ones, which are the sanitizer builds), UDAX_FUZZ_RUNS. The
# first build crashes the recovery at every third crash point of t_crash
# (UDAX_CRASH_RECOVERY=3; make crash-long: at each); the later builds
# check fewer crash images per crash point (UDAX_CRASH_SAMPLES 4,
# UDAX_CRASH_STRUCTURED 8; t_crash's defaults, 24 and 64, in the first),
# leave out the recovery crashes (UDAX_CRASH_RECOVERY=0), sample at most
# 6 failure cases per call kind in t_inject (UDAX_INJECT_MAX; all in the
# first) and soak 5,000 operations in t_fault (UDAX_SOAK_OPS; 20,000 in
# the first); under ThreadSanitizer t_recvfile leaves out its
# single-threaded cases of bulk data and crash images (minutes there),
# so that make check stays under 15 minutes. Each program's time is
# printed after it.
pass=0
fail=0
skip=0
failed=""
skipped=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# record RESULT NAME
record() {
	case "$1" in
	PASS) pass=$((pass + 1)) ;;
	FAIL) fail=$((fail + 1)); failed="$failed $2" ;;
	SKIP) skip=$((skip + 1)); skipped="$skipped $2" ;;
	esac
}

# tally TAG PROGRAM RC: record the PASS/FAIL/SKIP lines the program
# left in $log under TAG; one that printed none, or failed (RC) without a
# FAIL line, fails as a whole
tally() {
	n=0
	while read -r res name _; do
		case "$res" in
		PASS | FAIL | SKIP)
			record "$res" "$1:${name%:}"
			n=$((n + 1))
			;;
		esac
	done <"$log"
	if [ "$n" = 0 ] || { [ "$3" != 0 ] && ! grep -q '^FAIL' "$log"; }; then
		echo "FAIL $2 (exit $3)"
		record FAIL "$1:$2"
	fi
}

first=1
for b in "$@"; do
	tag=$(basename "$b")
	echo "== $tag"
	for t in "$b"/tests/t_*; do
		[ -x "$t" ] || continue
		t0=$(date +%s)
		args=""
		case "$tag:$(basename "$t")" in
		build-tsan:t_recvfile)
			args="-ranges-memory -ranges-crash -small-journal -crash-small-journal"
			;;
		esac
		if [ $first = 1 ]; then
			# shellcheck disable=SC2086
			UDAX_CRASH_RECOVERY=${UDAX_CRASH_RECOVERY:-3} \
				"$t" $args >"$log" 2>&1
		else
			# shellcheck disable=SC2086
			UDAX_CRASH_SAMPLES=${UDAX_CRASH_SAMPLES:-4} \
				UDAX_CRASH_STRUCTURED=${UDAX_CRASH_STRUCTURED:-8} \
				UDAX_CRASH_RECOVERY=${UDAX_CRASH_RECOVERY:-0} \
				UDAX_INJECT_MAX=${UDAX_INJECT_MAX:-6} \
				UDAX_SOAK_OPS=${UDAX_SOAK_OPS:-5000} \
				"$t" $args >"$log" 2>&1
		fi
		rc=$?
		cat "$log"
		echo "# $(basename "$t"): $(($(date +%s) - t0)) s"
		tally "$tag" "$(basename "$t")" "$rc"
	done
	if [ -x "$b/tests/difftest" ]; then
		ops=${UDAX_DIFFTEST_OPS:-}
		[ -n "$ops" ] || { [ $first = 1 ] && ops=200000 || ops=50000; }
		"$b/tests/difftest" --ops "$ops" >"$log" 2>&1
		rc=$?
		if [ $rc = 0 ]; then
			tail -n 1 "$log"
			echo "PASS difftest ($ops operations)"
			record PASS "$tag:difftest"
		elif [ $rc = 77 ]; then
			echo "SKIP difftest: $(tail -n 1 "$log")"
			record SKIP "$tag:difftest"
		else
			tail -n 30 "$log"
			echo "FAIL difftest"
			record FAIL "$tag:difftest"
		fi
	fi
	# what the tool prints (--json, info, progress bars, exit codes, man
	# pages): tests/cli_output.sh, one test
	if [ -x "$b/udax" ] && [ -f tests/cli_output.sh ]; then
		if UDAX="$b/udax" sh tests/cli_output.sh >"$log" 2>&1; then
			echo "PASS cli output ($(tail -n 1 "$log"))"
			record PASS "$tag:cli-output"
		else
			grep -A 12 '^FAIL' "$log" | head -n 60
			tail -n 1 "$log"
			echo "FAIL cli output"
			record FAIL "$tag:cli-output"
		fi
	fi
	if [ -x "$b/udax" ] && [ -f tests/cli_test.sh ]; then
		if UDAX="$b/udax" sh tests/cli_test.sh >"$log" 2>&1; then
			echo "PASS cli round trip"
			record PASS "$tag:cli"
		else
			tail -n 30 "$log"
			echo "FAIL cli round trip"
			record FAIL "$tag:cli"
		fi
	fi
	# the mount session and the NFS export of a mount: one test each,
	# skipped (exit 77) where FUSE or the NFS server cannot be used,
	# never passed then
	for sess in "mount:mount session:t_mount.sh" "nfs:nfs export:t_nfs.sh" \
		"serve:http server:t_serve.sh"; do
		name=${sess%%:*}
		desc=${sess#*:}
		script=tests/${desc#*:}
		desc=${desc%%:*}
		[ -x "$b/udax" ] && [ -f "$script" ] || continue
		UDAX="$b/udax" sh "$script" >"$log" 2>&1
		rc=$?
		if [ $rc = 0 ]; then
			tail -n 1 "$log"
			echo "PASS $desc"
			record PASS "$tag:$name"
		elif [ $rc = 77 ]; then
			grep '^SKIP' "$log"
			record SKIP "$tag:$name"
		else
			grep -v '^ok' "$log" | tail -n 40
			echo "FAIL $desc"
			record FAIL "$tag:$name"
		fi
	done
	first=0
done
# the mapping tests once more on a memory device of 2 MiB huge pages
# (UDAX_MEMORY_DEVICE=memfd-huge: whole-unit mappings, remaps, zaps and
# quarantine as on devdax), where enough huge pages are free (64 MiB
# devices: sysctl vm.nr_hugepages=64; .ci/run asks for them); skipped,
# and said why, where not
huge_free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo 2>/dev/null)
echo "== huge ($huge_free huge pages free)"
for prog in t_mmap t_fault t_layout t_api t_enospc t_pin t_sendfile; do
	t=${1:-build}/tests/$prog
	[ -x "$t" ] || continue
	if [ "${huge_free:-0}" -lt 48 ]; then
		echo "SKIP $prog on memfd-huge: fewer than 48 free 2 MiB huge pages (sysctl vm.nr_hugepages=64)"
		record SKIP "huge:$prog"
		continue
	fi
	t0=$(date +%s)
	UDAX_MEMORY_DEVICE=memfd-huge "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	echo "# $prog on memfd-huge: $(($(date +%s) - t0)) s"
	tally huge "$prog" "$rc"
done
# fuzz targets, briefly (UDAX_FUZZ_RUNS executions each; by default 1000,
# and 200 of the API sequences, each of which is a whole session; make
# fuzz runs them for FUZZ_TIME seconds each)
for t in build/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t" | sed 's/^fuzz_//')
	case $n in
	api) runs=${UDAX_FUZZ_RUNS:-200} ;;
	*) runs=${UDAX_FUZZ_RUNS:-1000} ;;
	esac
	tmpc=$(mktemp -d)
	if "$t" -runs="$runs" "$tmpc" "tests/fuzz/corpus/$n" >"$log" 2>&1; then
		echo "PASS fuzz/$n ($(grep -o 'Done [0-9]* runs.*' "$log"))"
		record PASS "fuzz:$n"
	else
		tail -n 40 "$log"
		echo "FAIL fuzz/$n"
		record FAIL "fuzz:$n"
	fi
	rm -rf "$tmpc"
done
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$skipped" ] && echo "skipped:$skipped"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
