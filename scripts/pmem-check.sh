#!/bin/sh
# pmem-check.sh BUILD: make pmem-check. Boots Debian's kernel in QEMU with
# emulated NVDIMMs (the qemu-dax harness beside the repository,
# ../shared/qemu-dax, or $QDAX) twice: ext4 -o dax plus devdax at align
# 4096, then devdax at 2 MiB; runs scripts/pmem-guest.sh in each. Installs
# qemu and a kernel package the first time (the harness's --install-deps).
# The console logs go to $QDAX_OUT (default /tmp/qemu-dax); the PMEM-
# lines of both are printed at the end. Exit 0 when every step passed.
set -eu
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
QDAX=${QDAX:-$HERE/../shared/qemu-dax}
[ -x "$QDAX/run.sh" ] || { echo "pmem-check: no qemu-dax harness at $QDAX (set QDAX)" >&2; exit 2; }
deps=
command -v qemu-system-x86_64 >/dev/null && ls /boot/vmlinuz-* >/dev/null 2>&1 || deps=--install-deps
export QDAX_EXTRA_MODULES="dax_pmem device_dax"
out=${QDAX_OUT:-/tmp/qemu-dax}
mkdir -p "$out"
rc=0
for mode in dax4k dax2m; do
	log=$out/pmem-check-$mode.log
	extras=""
	for b in udax tests/t_fault tests/t_mmap tests/t_pin; do
		extras="$extras --extra $HERE/$BUILD/$b --extra-args none"
	done
	# shellcheck disable=SC2086
	"$QDAX/run.sh" --accel tcg --reps 1 --second-pmem 512M --log "$log" \
		$deps $extras --extra "$QDAX/devdax.sh" --extra-args -n \
		--extra "$HERE/scripts/pmem-guest.sh" --extra-args "$mode" >/dev/null 2>&1 || rc=1
	deps=
	grep -E '^(PMEM-|RESULT|udax|SUMMARY)' "$log" || true
	grep -q "PMEM-SUMMARY mode=$mode failed_steps=0" "$log" || rc=1
done
echo "pmem-check: logs in $out/pmem-check-*.log; $([ $rc = 0 ] && echo passed || echo FAILED)"
exit $rc
