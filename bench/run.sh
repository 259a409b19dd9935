#!/bin/sh
# bench/run.sh - build and run udax-bench (called by `make bench`).
#
#   sh bench/run.sh [BUILD_DIR] [udax-bench options...]
#
# BUILD_DIR (default: build) holds libudax.a; the benchmark binary is built
# as BUILD_DIR/bench/udax-bench. Options after BUILD_DIR, and those in the
# BENCH_ARGS environment variable (`make bench BENCH_ARGS=--json`), are
# passed to udax-bench; see bench/README.md.
set -e

cd "$(dirname "$0")/.."
BUILD=${1:-build}
[ $# -gt 0 ] && shift

if [ ! -f "$BUILD/libudax.a" ]; then
	${MAKE:-make} --no-print-directory BUILD="$BUILD" "$BUILD/libudax.a"
fi

CC=${CC:-cc}
LIBS=$(pkg-config --libs libpmem2 2>/dev/null || echo -lpmem2)
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2086
$CC -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -D_GNU_SOURCE -pthread -Iinclude -Isrc \
	bench/*.c "$BUILD/libudax.a" $LIBS -pthread \
	-o "$BUILD/bench/udax-bench"

# shellcheck disable=SC2086
exec "$BUILD/bench/udax-bench" $BENCH_ARGS "$@"
