#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/plot.py - draw the JSON tables of `make plots` as SVG with gnuplot.

    python3 bench/plot.py JSONDIR OUTDIR

JSONDIR holds what the benchmarks printed with --json (bench/plots.sh
writes it): udax-bench.json (bench/run.sh: sequential writes, durable
appends, create+unlink), faults.json (udax bench faults), pins.json,
serve.json (udax bench serve) and mount.json (bench/mount.sh); a missing
file is skipped. OUTDIR gets one SVG per figure:

  faults.svg      fault latency histograms in log2 microsecond buckets,
                  as the MAP_SYNC seed's tables print them (<1, 1, 2-3,
                  4-7, ... us), one line per case, udax beside the kernel
  seq_write.svg, append_durable.svg, create_unlink.svg
                  each measurement's median with its min..max range
  pins.svg        udax_sendfile beside sendfile(2) from tmpfs
  serve.svg       udax serve beside nginx: throughput per case
  mount.svg       a source tree through the mount, tmpfs and a FUSE
                  pass-through beside it, seconds per step

Each figure's title says the load average the run saw. gnuplot (Debian's
gnuplot-nox, scripts/install-deps.sh --bench) draws; this script only
turns the JSON into gnuplot's inline data.
"""
import json
import os
import subprocess
import sys

TERM = "set terminal svg size 900,520 dynamic enhanced font 'sans,11'"


def load(jsondir, name):
    path = os.path.join(jsondir, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def q(s):
    """A string for gnuplot, in double quotes."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def gnuplot(out, script):
    with open(out + ".gp", "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", out + ".gp"], check=True)
    os.unlink(out + ".gp")
    print("plot: " + out)


def load_note(d, key_start, key_end=None):
    a = d.get(key_start)
    b = d.get(key_end) if key_end else None
    if a is None:
        return ""
    return ", load %.1f" % a + ("..%.1f" % b if b is not None else "")


def bars(out, title, unit, rows):
    """Horizontal bars: rows of (label, median, min, max)."""
    data = "\n".join("%s %g %g %g" % (q(lab), med, lo, hi)
                     for lab, med, lo, hi in rows)
    n = len(rows)
    gnuplot(out, f"""{TERM}
set output {q(out)}
set title {q(title)} noenhanced
set xlabel {q(unit)}
set ytics nomirror noenhanced
set yrange [-0.7:{n - 0.3}]
set xrange [0:*]
set grid xtics
set style fill solid 0.6 border -1
$d << EOD
{data}
EOD
plot $d using 2:0:(0):2:($0-0.35):($0+0.35):yticlabel(1) with boxxyerror notitle lc rgb '#4a7ebb', \\
     $d using 2:0:3:4 with xerrorbars notitle lc rgb 'black' pt -1
""")


def clustered(out, title, unit, groups, series):
    """Clustered vertical bars: groups[i] = (label, [value per series])."""
    data = "\n".join(q(g) + " " + " ".join("%g" % v if v is not None else "?"
                                          for v in vals)
                     for g, vals in groups)
    cols = ", ".join(
        f"$d using {i + 2}:xtic(1) title {q(s)}" for i, s in enumerate(series))
    gnuplot(out, f"""{TERM}
set output {q(out)}
set title {q(title)} noenhanced
set ylabel {q(unit)}
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set xtics noenhanced
set yrange [0:*]
set grid ytics
set key top left
$d << EOD
{data}
EOD
plot {cols}
""")


def plot_faults(d, outdir):
    cases = d.get("cases", {})
    names = [c for c in cases if "hist_log2_us" in cases[c]]
    if not names:
        return
    width = max(len(cases[c]["hist_log2_us"]) for c in names)
    last = 0
    for c in names:
        h = cases[c]["hist_log2_us"]
        for i, v in enumerate(h):
            if v:
                last = max(last, i)
    labels = ["<1"] + ["%d-%d" % (1 << (i - 1), (1 << i) - 1) if i > 1 else "1"
                       for i in range(1, width)]
    rows = []
    for i in range(last + 1):
        vals = [cases[c]["hist_log2_us"][i]
                if i < len(cases[c]["hist_log2_us"]) else 0 for c in names]
        rows.append(q(labels[i]) + " " +
                    " ".join(str(v if v else 0.5) for v in vals))
    cols = ", ".join(f"$d using {i + 2}:xtic(1) with linespoints title {q(c)}"
                     for i, c in enumerate(names))
    dev = d.get("device", {})
    title = "page faults of a new mapping, %s pages, %s device%s" % (
        d.get("pages", "?"), dev.get("name", "?"),
        load_note(d, "loadavg_1min"))
    gnuplot(os.path.join(outdir, "faults.svg"), f"""{TERM}
set output {q(os.path.join(outdir, "faults.svg"))}
set title {q(title)} noenhanced
set xlabel "fault latency, microseconds (log2 buckets)"
set ylabel "faults (an empty bucket is drawn at 0.5)"
set logscale y
set xtics noenhanced rotate by -45
set key outside right noenhanced
set grid ytics
$d << EOD
{chr(10).join(rows)}
EOD
plot {cols}
""")


def plot_udax_bench(d, outdir):
    load = d.get("machine", {}).get("loadavg_1min")
    for key, sec in d.items():
        if not isinstance(sec, dict) or "measurements" not in sec:
            continue
        rows = []
        for m in sec["measurements"]:
            med = m.get("median", m.get("p50_us"))
            if med is None:
                continue
            rows.append((m.get("id", "?"), med, m.get("min", med),
                         m.get("max", med)))
        if rows:
            title = sec.get("title", key)
            if load is not None:
                title += ", load %.1f" % load
            bars(os.path.join(outdir, key + ".svg"), title,
                 sec.get("unit", ""), rows)


def plot_pins(d, outdir):
    m = d.get("measurements", {})
    groups = []
    for size in ("1m", "64k"):
        u = m.get("sendfile_udax_" + size, {}).get("median")
        k = m.get("sendfile_kernel_" + size, {}).get("median")
        groups.append(("%s messages" % ("1 MiB" if size == "1m" else "64 KiB"),
                       [u, k]))
    title = "udax_sendfile beside sendfile(2) from tmpfs, loopback TCP" + \
        load_note(d, "loadavg_1min_start", "loadavg_1min_end")
    clustered(os.path.join(outdir, "pins.svg"), title, "GiB/s", groups,
              ["udax_sendfile", "sendfile(2), tmpfs"])


def plot_serve(d, outdir):
    m = d.get("measurements", {})
    groups = []
    for case in ("get_1k", "get_64k", "get_1m", "get_64m", "put_64k",
                 "put_1m", "put_64m"):
        u = m.get(case + "_udax_mib_s", {}).get("median")
        n = m.get(case + "_nginx_mib_s", {}).get("median")
        if u is None and n is None:
            continue
        groups.append((case.replace("_", " ").upper().replace("K", " KiB")
                       .replace("M", " MiB"), [u, n]))
    title = "udax serve beside nginx under wrk, %s image%s" % (
        d.get("device_state", "?"),
        load_note(d, "loadavg_1min_start", "loadavg_1min_end"))
    clustered(os.path.join(outdir, "serve.svg"), title, "MiB/s", groups,
              ["udax serve", "nginx"])


def plot_mount(d, outdir):
    groups = [(r["what"], [r.get("tmpfs"), r.get("passthrough"),
                           r.get("udax")]) for r in d.get("rows", [])]
    title = "%s through the mount, %s files%s" % (
        d.get("tree", "?"), d.get("files", "?"),
        load_note(d, "loadavg_before", "loadavg_after"))
    clustered(os.path.join(outdir, "mount.svg"), title, "seconds", groups,
              ["tmpfs", "FUSE pass-through", "udax mount"])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py JSONDIR OUTDIR")
    jsondir, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    for name, fn in (("udax-bench.json", plot_udax_bench),
                     ("faults.json", plot_faults), ("pins.json", plot_pins),
                     ("serve.json", plot_serve), ("mount.json", plot_mount)):
        d = load(jsondir, name)
        if d is not None:
            fn(d, outdir)


main()
