#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/plots.sh [BUILD] [OUTDIR] - make plots: the benchmarks of make
# bench run with --json into BUILD/bench-json (BUILD default build), then
# drawn as SVG into OUTDIR (default docs/bench) by bench/plot.py with
# gnuplot, beside the JSON they came from and machine.txt, the machine and
# load they ran on. docs/bench holds the reference run the README shows;
# another OUTDIR keeps a run of your own apart from it.
set -e
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-docs/bench}
J=$BUILD/bench-json
sh scripts/install-deps.sh --bench ||
	echo "plots: nginx, wrk or gnuplot missing (scripts/install-deps.sh --bench)" >&2
command -v gnuplot >/dev/null || { echo "plots: needs gnuplot" >&2; exit 1; }
rm -rf "$J"
mkdir -p "$J" "$OUT"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "plots: udax-bench (sequential writes, appends, creates)"
sh bench/run.sh "$BUILD" --json >"$J/udax-bench.json"
echo "plots: udax bench faults"
"$BUILD/udax" bench faults --json >"$J/faults.json"
echo "plots: udax bench pins"
"$BUILD/udax" bench pins --json >"$J/pins.json"
echo "plots: udax bench serve"
"$BUILD/udax" bench serve --json >"$J/serve.json" || rm -f "$J/serve.json"
echo "plots: bench/mount.sh"
MOUNT_JSON="$J/mount.json" sh bench/mount.sh "$BUILD/udax" >"$J/mount.txt" || true
load1=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "udax $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
	echo "memory: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "kernel: $(uname -srm)"
	echo "load average (1, 5, 15 min): $load0 before, $load1 after"
} >"$OUT/machine.txt"
rm -f "$OUT"/*.json
cp "$J"/*.json "$OUT"/
# the tree's own place on this machine does not go into the repository
here=$(pwd)
sed -i "s|$here/|./|g; s|$here\([\" ]\)|.\1|g" "$OUT"/*.json
python3 bench/plot.py "$J" "$OUT"
