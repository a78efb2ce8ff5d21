#!/usr/bin/env python3
"""The benchmark suite: gates against the bare limit and the alternatives,
and real workloads protected against unprotected.  Prints a table, writes a
CSV and (with gnuplot) a PNG chart.  bench/run builds and calls it.

Modes: "dry" (dry run: gated, no keys) always; "pku" (real keys) where the
CPU has PKU.  Every gated row is compared with the bare limit of its mode
measured in the same run: two WRPKRU around an empty call (pku), two writes
of the emulated per-thread word (dry)."""
import argparse
import csv
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

# Two WRPKRU around an empty call, measured natively on a machine of this
# project's pool that had PKU (bench/run there, 2026-12-02): used for the
# estimate when this machine has no PKU.
RECORDED_BARE_PKU_NS = 27.4
RECORDED_BARE_PKU_CPU = "AMD EPYC (KVM guest), 2026-12-02"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def has_pku():
    try:
        with open("/proc/cpuinfo") as f:
            return any(re.search(r"\bpku\b", line) for line in f if line.startswith("flags"))
    except OSError:
        return False


class Runner:
    def __init__(self, build, quick):
        self.build = build
        self.quick = quick
        self.wrap = os.path.join(build, "bin", "protect-wrap")
        self.micro = os.path.join(build, "bench", "microbench")
        self.macro = os.path.join(build, "bench", "macrobench")
        cores = os.cpu_count() or 1
        self.pin1 = ["taskset", "-c", str(cores - 1)] if shutil.which("taskset") and cores > 1 else []
        self.pin2 = ["taskset", "-c", "0,1"] if shutil.which("taskset") and cores > 1 else []

    def command(self, argv, mode, policy, pin):
        """MODE: None (unprotected), "dry" or "pku"."""
        env = dict(os.environ)
        env.pop("PROTECT_DRY_RUN", None)
        if mode is None:
            return pin + argv, env
        if mode == "dry-nocounters":  # the same shim built without the gate's counters
            env.update(LD_PRELOAD=os.path.join(self.build, "bench", "libprotect-nocounters.so"),
                       PROTECT_POLICY=policy, PROTECT_DRY_RUN="1", LD_BIND_NOW="1")
            return pin + argv, env
        wrap = [self.wrap] + (["--dry-run"] if mode == "dry" else []) + ["-p", policy, "--"]
        return pin + wrap + argv, env

    def run(self, argv, mode=None, policy=None, pin=None):
        cmd, env = self.command(argv, mode, policy, self.pin1 if pin is None else pin)
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-400:]))
        return p.stdout, p.stderr


def policy(build, name):
    return os.path.join(build, "bench", name)


def micro_rows(r, modes, src):
    """[(row label, mode, median, min, max, reference median)]"""
    q = r.quick
    calls, slow, reps = (20000, 200, 3) if q else (1000000, 20000, 11)
    integrity = policy(r.build, "benchlib-integrity.policy")
    confidential = policy(r.build, "benchlib-confidential.policy")
    out = []

    def one(label, row, mode, pol=None, n=calls, ref=None):
        argv = [r.micro, row, str(n), str(reps)] + ([ref] if ref else [])
        stdout, _ = r.run(argv, mode if pol else None, pol)
        f = stdout.split()
        out.append(dict(label=label, mode={None: "-", "dry-nocounters": "dry"}.get(mode, mode), median=float(f[1]),
                        min=float(f[2]), max=float(f[3]),
                        paired=float(f[5]) if ref else None))

    one("plain call", "plain", None)
    for m in modes:
        one("bare limit", "bare-" + m, m)
        # In dry run the bare loop also runs inside the gated process, paired
        # with each repetition (robust to a drifting machine); with keys the
        # gated process's guards would trap the loop's own WRPKRUs.
        ref = "bare-dry" if m == "dry" else None
        one("gate (integrity)", "gate", m, integrity, ref=ref)
        one("gate (confidential)", "gate", m, confidential, ref=ref)
        one("8 stack arguments", "args-stack8", m, integrity, ref=ref)
        one("varargs", "varargs", m, integrity, ref=ref)
        one("nested entry", "nested", m, integrity, ref=ref)
        one("callback round trip", "callback", m, integrity, ref=ref)
        one("int3-gated entry", "int3", m, integrity, n=slow)
        one("a library's open+close (SIGSYS, carried out in its domain)", "trapped-open", m, integrity, n=slow)
        one("a signal that comes inside the library (deferred, then delivered)", "deferred-signal", m, integrity, n=slow)
        one("a signal to the application's handler (no library call)", "signal", m, integrity, n=slow)
        one("a thread started that makes one library call", "thread", m, integrity, n=slow)
        if m == "dry":
            one("gate (integrity), without the counters", "gate", "dry-nocounters", integrity, ref="bare-dry")
    one("a library's open+close (unprotected)", "trapped-open", None, n=slow)
    one("a signal raised in a library call (unprotected)", "deferred-signal", None, n=slow)
    one("a signal to the application's handler (unprotected)", "signal", None, n=slow)
    one("a thread started that makes one library call (unprotected)", "thread", None, n=slow)
    one("mprotect on entry and exit", "syscall", None, n=slow)
    one("library in another process (ring + futex)", "process", None, n=slow)
    return out


MACRO = [
    # label, workload, policy (relative to the build tree or source), ops (full, quick), threads
    ("kvstore, 1 thread", "kvstore", "examples/kvstore.policy", 300000, 1),
    ("kvstore, 2 threads", "kvstore", "examples/kvstore.policy", 300000, 2),
    ("SQLite inserts", "sqlite-insert", "@policy/sqlite3.policy", 100000, 1),
    ("SQLite point selects", "sqlite-select", "@policy/sqlite3.policy", 100000, 1),
    ("SQLite join", "sqlite-join", "@policy/sqlite3.policy", 20000, 1),
    ("LMDB load", "lmdb-load", "@policy/lmdb.policy", 200000, 1),
    ("LMDB read", "lmdb-read", "@policy/lmdb.policy", 200000, 1),
    ("zlib 4 KiB blocks", "zlib", "@policy/zlib.policy", 2000, 1),
    ("lwIP echo round trips (loopback)", "lwip-echo", "@policy/lwip.policy", 20000, 1),
    ("malloc/free in a gated call, 1 thread", "malloc", "bench/benchlib-integrity.policy", 2000000, 1),
    ("malloc/free in a gated call, 2 threads", "malloc", "bench/benchlib-integrity.policy", 2000000, 2),
]


def macro_rows(r, modes, src, bare):
    reps = 1 if r.quick else 5
    out = []
    for label, work, pol, ops, threads in MACRO:
        if r.quick:
            ops = max(200, ops // 500)
        pol = os.path.join(src, pol[1:]) if pol.startswith("@") else os.path.join(r.build, pol)
        argv = [r.macro, work, str(ops), str(threads)]
        pin = r.pin2 if threads > 1 else r.pin1
        times = {None: []}
        times.update({m: [] for m in modes})
        crossings = None
        for i in range(reps):
            for m in [None] + modes:
                stdout, _ = r.run(argv, m, pol if m else None, pin)
                f = stdout.split()
                times[m].append(float(f[1]))
                if m is not None:
                    crossings = int(f[3]) / ops  # counted by libprotect while timed
        plain = statistics.median(times[None])
        row = dict(label=label, plain=plain, crossings=crossings)
        for m in modes:
            row[m] = statistics.median(times[m])
            row[m + "_slowdown"] = row[m] / plain - 1
        # With keys, each crossing costs two real WRPKRU instead of two
        # emulated writes: add that to the dry-run slowdown.
        row["estimate"] = row["dry_slowdown"] + crossings * (bare["pku"] - bare["dry"]) / plain
        out.append(row)
    return out


# 2 threads against 1, on the same workload: the two runs back to back, in
# each repetition, and the median of the per-pair ratios (a shared machine's
# speed drifts by 2x between minutes; ratios of medians taken minutes apart
# mix that drift in).
SCALING = [
    ("malloc/free in a gated call", "malloc", "bench/benchlib-integrity.policy", 2000000),
    ("kvstore", "kvstore", "examples/kvstore.policy", 300000),
]


def scaling_rows(r, modes):
    reps = 1 if r.quick else 9
    out = []
    for label, work, pol, ops in SCALING:
        if r.quick:
            ops = max(200, ops // 500)
        pol = os.path.join(r.build, pol)
        ratios = {m: [] for m in [None] + modes}
        for i in range(reps):
            for m in [None] + modes:
                ns = []
                for threads, pin in ((1, r.pin1), (2, r.pin2)):
                    stdout, _ = r.run([r.macro, work, str(ops), str(threads)], m, pol if m else None, pin)
                    ns.append(float(stdout.split()[1]))
                ratios[m].append(ns[0] / ns[1])  # the rate with 2 threads over the rate with 1
        out.append(dict(label=label, pairs=reps, **{("plain" if m is None else m): statistics.median(v)
                                        for m, v in ratios.items()},
                        spread={("plain" if m is None else m): (min(v), max(v)) for m, v in ratios.items()}))
    return out


def fmt_pct(x):
    return "%+.1f%%" % (100 * x)


def print_tables(micro, macro, scaling, modes, bare, header):
    print(header)
    print()
    print("%-44s %-4s %10s %10s %10s %12s %8s" % ("gate row", "mode", "ns/call", "min", "max", "calls/s", "x bare"))
    for m in micro:
        ratio = ""
        if m["mode"] in bare and m["label"] not in ("bare limit",):
            ratio = "%.2f" % (m["median"] / bare[m["mode"]])
        elif m["label"] == "bare limit":
            ratio = "1.00"
        print("%-44s %-4s %10.1f %10.1f %10.1f %12s %8s" % (m["label"], m["mode"], m["median"], m["min"], m["max"],
                                                           "{:,.0f}".format(1e9 / m["median"]), ratio))
    dry_gate = [m for m in micro if m["mode"] == "dry" and m["label"] == "gate (integrity)"]
    if dry_gate and dry_gate[0]["paired"] is not None:
        print("\nwhat the gate adds beyond the two emulated PKRU writes (dry run, paired): %.1f ns per call"
              % dry_gate[0]["paired"])
    bare_gate = [m for m in micro if m["label"] == "gate (integrity), without the counters"]
    if dry_gate and bare_gate and bare_gate[0]["paired"] is not None:
        print("what the telemetry counters add to it: %+.1f ns per call (%+.1f%%; noise on a shared machine is larger)"
              % (dry_gate[0]["paired"] - bare_gate[0]["paired"],
                 100 * (dry_gate[0]["median"] / bare_gate[0]["median"] - 1)))
    print()
    cols = "".join(" %12s" % ("ns/op " + m) for m in modes)
    print("%-40s %12s%s %9s %10s %10s" % ("workload", "ns/op plain", cols, "dry", "pku" if "pku" in modes else "", "crossings"))
    for w in macro:
        vals = "".join(" %12.1f" % w[m] for m in modes)
        print("%-40s %12.1f%s %9s %10s %10.2f" % (w["label"], w["plain"], vals, fmt_pct(w["dry_slowdown"]),
                                                  fmt_pct(w["pku_slowdown"]) if "pku" in modes else "",
                                                  w["crossings"]))
    print("\nestimated slowdown with PKU (an estimate: dry-run slowdown + crossings/op x "
          "(two WRPKRU - two emulated writes) / plain ns/op, two WRPKRU = %.1f ns%s):"
          % (bare["pku"], "" if "pku" in modes else " as recorded on " + RECORDED_BARE_PKU_CPU))
    for w in macro:
        print("  %-40s %s" % (w["label"], fmt_pct(w["estimate"])))
    print("\nscaling, the rate with 2 threads over the rate with 1 (median of %d pairs run back to back; "
          "lowest-highest):" % (scaling[0]["pairs"] if scaling else 0))
    for x in scaling:
        cols = []
        for m in ["plain"] + modes:
            lo, hi = x["spread"][m]
            cols.append("%s %.2fx (%.2f-%.2f)" % ({"plain": "unprotected", "dry": "dry run", "pku": "PKU"}[m],
                                                 x[m], lo, hi))
        print("  %-30s %s; protected (dry) at %.0f%% of unprotected's" % (x["label"], ", ".join(cols),
                                                                       100 * x["dry"] / x["plain"]))


def write_csv(path, micro, macro, scaling, modes):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "row", "mode", "ns_median", "ns_min", "ns_max", "calls_per_s", "paired_minus_bare_ns",
                    "plain_ns_per_op", "slowdown", "crossings_per_op", "estimated_pku_slowdown"])
        for m in micro:
            w.writerow(["gate", m["label"], m["mode"], "%.2f" % m["median"], "%.2f" % m["min"], "%.2f" % m["max"],
                        "%.0f" % (1e9 / m["median"]), "" if m["paired"] is None else "%.2f" % m["paired"],
                        "", "", "", ""])
        for x in macro:
            for mode in modes:
                w.writerow(["workload", x["label"], mode, "%.1f" % x[mode], "", "", "", "", "%.1f" % x["plain"],
                            "%.4f" % x[mode + "_slowdown"], "%.3f" % x["crossings"], "%.4f" % x["estimate"]])
        for x in scaling:  # ns_median here: the median rate ratio, 2 threads over 1
            for mode in ["plain"] + modes:
                w.writerow(["scaling", x["label"], mode, "%.3f" % x[mode], "%.3f" % x["spread"][mode][0],
                            "%.3f" % x["spread"][mode][1], "", "", "", "", "", ""])


def write_chart(path, micro, macro, modes, header):
    if not shutil.which("gnuplot"):
        print("(no gnuplot: install gnuplot-nox for the chart)")
        return
    data = path + ".dat"
    with open(data, "w") as f:
        f.write("# row dry pku\n")
        labels = []
        for m in micro:
            if m["label"] not in labels:
                labels.append(m["label"])
        for label in labels:
            vals = {m["mode"]: m["median"] for m in micro if m["label"] == label}
            f.write('"%s" %s %s\n' % (label, vals.get("dry", vals.get("-", "NaN")), vals.get("pku", vals.get("-", "NaN"))))
        f.write("\n\n")
        for x in macro:
            f.write('"%s" %.3f %s %.3f\n' % (x["label"], 100 * x["dry_slowdown"],
                                            "%.3f" % (100 * x["pku_slowdown"]) if "pku" in modes else "NaN",
                                            100 * x["estimate"]))
    script = """
set terminal pngcairo size 1400,1000 font ',10'
set output '%s'
set multiplot layout 2,1 title "%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -25 scale 0
set logscale y
set ylabel 'ns per call (log)'
set grid ytics
plot '%s' index 0 using 2:xtic(1) title 'dry run', '' index 0 using 3 title 'PKU (or unprotected rows)'
unset logscale y
set ylabel 'slowdown, %%'
plot '%s' index 1 using 2:xtic(1) title 'dry run', '' index 1 using 3 title 'PKU', '' index 1 using 4 title 'PKU estimate'
unset multiplot
""" % (path, header.replace('"', "'").replace("\n", " | "), data, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the build tree (default: build)")
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default="bench/results", help="folder for the CSV and PNG (default: bench/results)")
    ap.add_argument("--quick", action="store_true", help="a smoke run of about a second: no meaningful timings")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    modes = (["pku"] if has_pku() else []) + ["dry"]
    r = Runner(build, args.quick)
    micro = micro_rows(r, modes, args.src)
    bare = {m["mode"]: m["median"] for m in micro if m["label"] == "bare limit"}
    if "pku" not in bare:
        bare["pku"] = RECORDED_BARE_PKU_NS
    macro = macro_rows(r, modes, args.src, bare)
    header = "libprotect benchmarks: %s; modes: %s; %s" % (
        cpu_model(), ", ".join("hardware PKU" if m == "pku" else "dry run" for m in modes),
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M") + (" (QUICK: not timings)" if args.quick else ""))
    scaling = scaling_rows(r, modes)
    print_tables(micro, macro, scaling, modes, bare, header)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "bench-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    write_csv(stem + ".csv", micro, macro, scaling, modes)
    write_chart(stem + ".png", micro, macro, modes, header)
    print("\nwrote %s.csv%s" % (stem, " and .png" if shutil.which("gnuplot") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
