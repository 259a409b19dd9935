#!/bin/sh
# The main job on the embedded default device, a memory file: make a udax
# file system in /dev/shm, copy a real source tree in (this project's
# own), check it, copy it back out and compare. Usage: scripts/demo.sh
# [UDAX] [SOURCE_TREE]
set -e
UDAX=${1:-build/udax}
SRC=${2:-.}
IMG=/dev/shm/udax-demo-$$.img
OUT=$(mktemp -d)
trap 'rm -rf "$IMG" "$OUT"' EXIT

run() {
	echo "\$ $*"
	"$@"
}

run "$UDAX" mkfs --size 256M "$IMG"
run "$UDAX" cp -r "$SRC/src" "$SRC/include" "$SRC/docs" "$SRC/tests" "$IMG:/"
run "$UDAX" ls -l "$IMG:/"
run "$UDAX" df -h "$IMG"
run "$UDAX" fsck -n "$IMG"
run "$UDAX" cp -r "$IMG:/src" "$IMG:/include" "$IMG:/docs" "$IMG:/tests" "$OUT"
for d in src include docs tests; do
	run diff -r "$SRC/$d" "$OUT/$d"
done
echo "demo: the tree went in and came out identical; fsck found the image clean"
