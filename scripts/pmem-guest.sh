#!/bin/sh
# pmem-guest.sh MODE: run inside the qemu-dax guest (busybox sh) by
# scripts/pmem-check.sh. MODE "dax4k": the ext4-DAX mount, then the
# second NVDIMM as devdax at align 4096; MODE "dax2m": devdax at 2 MiB.
# The binaries are in /extra (copied there as --extra, each run once
# with the argument "none", which makes a test run no case).
[ "$1" = "-n" ] && exit 0
MODE=$1
X=/extra
fails=0
step() {	# name command...
	name=$1
	shift
	echo "PMEM-STEP $name: $*"
	"$@"
	rc=$?
	echo "PMEM-RESULT $name rc=$rc"
	[ $rc = 0 ] || fails=$((fails + 1))
}
devdax_checks() {	# dev label
	step "$2-mkfs" $X/udax mkfs "$1"
	step "$2-info" $X/udax info "$1"
	step "$2-fsck" $X/udax fsck -n "$1"
	step "$2-bench" $X/udax bench faults --no-kernel --reps 1 --device "$1"
	step "$2-bench-json" $X/udax bench faults --no-kernel --reps 1 --json --device "$1"
	step "$2-fsck-after" $X/udax fsck -n "$1"
}
case "$MODE" in
dax4k)
	img=$QDAX_DAX_DIR/udax.img
	step dax-file-mkfs $X/udax mkfs --size 64M "$img"
	step dax-file-info $X/udax info "$img"
	for t in t_fault t_mmap t_pin; do
		step "dax-file-$t" env UDAX_MEMORY_DEVICE=$QDAX_DAX_DIR UDAX_SOAK_OPS=300 $X/$t
	done
	step dax-file-bench $X/udax bench faults --reps 1 --dir "$QDAX_DAX_DIR" --device "$img" --size 64M
	step dax-file-bench-json $X/udax bench faults --reps 1 --json --dir "$QDAX_DAX_DIR" --device "$img" --size 64M
	dev=$($X/devdax.sh 4096) && devdax_checks "$dev" devdax4k
	;;
dax2m)
	dev=$($X/devdax.sh 2097152) && devdax_checks "$dev" devdax2m
	;;
esac
echo "PMEM-SUMMARY mode=$MODE failed_steps=$fails"
