#!/usr/bin/env python3
"""Runs the benchmark programs of bench/README.md side by side and reports them.

Every case runs `--runs` times for every implementation that has it, interleaved (run 1 of each
implementation, then run 2, ...) so that a noisy moment of the machine hits all of them. Each
figure is the median of its runs, with the spread (min..max). Ratios say how many times better
swarmsync did than the peer: higher throughput, or lower latency and memory.

Writes results.json, RESULTS.md and chart.png into --out (not with --quick, a smoke run).
Exits non-zero when a program fails or is missing, never silently.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ORDER = ["swarmsync", "tokio", "asio", "moodycamel", "cnats"]

# Metrics where lower is better; every other metric is a rate, higher is better.
LOWER_IS_BETTER = {"rt_p50_ns", "rt_p99_ns", "hop_p50_ns", "hop_p99_ns", "bytes_per_msg", "bytes_per_slot", "bytes_per_subscriber",
                   "json_ns_per_msg", "msgpack_ns_per_msg", "hops_per_job", "allocations_per_job", "json_bytes_per_msg", "msgpack_bytes_per_msg"}

UNITS = {
    "mmsg_per_s": "M msg/s",
    "mdeliveries_per_s": "M deliveries/s",
    "lagged_pct": "% of values lagged",
    "rt_p50_ns": "round trip p50, ns",
    "rt_p99_ns": "round trip p99, ns",
    "round_trips_per_s": "round trips/s",
    "bytes_per_msg": "heap bytes per queued value",
    "bytes_per_slot": "heap bytes per slot",
    "bytes_per_subscriber": "heap bytes per subscriber",
    "jobs_per_s": "jobs/s",
    "hops_per_job": "one job's cost in channel hops (half a ping-pong round trip, same run)",
    "allocations_per_job": "heap allocations per job",
    "jobs_per_s_in_process": "jobs/s, the same jobs on in-process workers",
    "jobs_per_s_split": "jobs/s, the same remote workers, the Core in three processes",
    "jobs_per_s_http": "jobs/s, the same jobs with --http and a scraper every 100 ms",
    "scrapes": "scrapes of /metrics and /api/state during the run",
    "json_ns_per_msg": "JSON encode + decode, ns per message",
    "msgpack_ns_per_msg": "MessagePack encode + decode, ns per message",
    "json_bytes_per_msg": "JSON bytes per message",
    "msgpack_bytes_per_msg": "MessagePack bytes per message",
    "msg_per_s": "msg/s",
    "hop_p50_ns": "send to receive p50, ns",
    "hop_p99_ns": "send to receive p99, ns",
}


def targets(cases):
    """DESIGN.md section 5, and for the scaling cases and protocol variations their base case's
    (those of 1 -> 1 that of mpsc_1_1, the others 2x): (case, metric, peer, factor). swarmsync must be `factor` times
    better than the peer (a factor of 0.5: no worse than half as good)."""
    t = [
        ("mpsc_1_1", "mmsg_per_s", "tokio", 1.5),
        ("mpsc_4_1", "mmsg_per_s", "tokio", 2.0),
        ("mpsc_4_1", "mmsg_per_s", "moodycamel", 0.5),
        ("mpsc_1_1", "mmsg_per_s", "moodycamel", 0.5),
        ("bounded_4_1", "mmsg_per_s", "tokio", 2.0),
        ("pingpong", "rt_p50_ns", "tokio", 1.0),
        ("pingpong", "rt_p99_ns", "tokio", 1.0),
        # The scaling and protocol variations of the cases above (bench/README.md).
        ("mpsc_8_1", "mmsg_per_s", "tokio", 2.0),
        ("mpsc_16_1", "mmsg_per_s", "tokio", 2.0),
        ("bounded_16_1", "mmsg_per_s", "tokio", 2.0),
        ("mpsc_4_1_y1024", "mmsg_per_s", "tokio", 2.0),
        ("mpsc_1_1_p64", "mmsg_per_s", "tokio", 1.5),
        ("mpsc_1_1_y1024", "mmsg_per_s", "tokio", 1.5),
        ("mpsc_1_1_p64_y1024", "mmsg_per_s", "tokio", 1.5),
    ]
    t += [(c, "mdeliveries_per_s", "tokio", 2.0) for c in cases if c.startswith("broadcast_")]
    return t


def run_once(program, case, scale, timeout):
    """One run of one case: its metrics, or raises RuntimeError with the program's words."""
    cmd = [program, case] + (["--scale", repr(scale)] if scale != 1.0 else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)}: no result after {timeout} s")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if len(lines) != 1:
        raise RuntimeError(f"{' '.join(cmd)}: expected one result line, got: {p.stdout.strip()!r}")
    return json.loads(lines[0])["metrics"]


def advantage(metric, ours, peer):
    """How many times better swarmsync did than the peer on this metric."""
    if ours == peer:
        return 1.0
    if metric in LOWER_IS_BETTER:
        return peer / ours if ours > 0 else float("inf")
    return ours / peer if peer > 0 else float("inf")


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def build_tables(results, impls):
    """Markdown tables, one per case: metric, each implementation's median [min..max], ratios."""
    out = []
    for case, by_impl in results.items():
        present = [i for i in impls if i in by_impl]
        peers = [i for i in present if i != "swarmsync"]
        head = ["metric"] + present + ([f"swarmsync vs {p}" for p in peers] if "swarmsync" in present else [])
        out.append(f"**{case}**\n")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        metrics = []
        for i in present:
            for m in by_impl[i].get("metrics", {}):
                if m not in metrics:
                    metrics.append(m)
        for m in metrics:
            row = [UNITS.get(m, m)]
            for i in present:
                s = by_impl[i].get("metrics", {}).get(m)
                if by_impl[i].get("error"):
                    row.append("failed")
                elif s is None:
                    row.append("—")
                else:
                    row.append(f"{fmt(s['median'])} [{fmt(s['min'])}..{fmt(s['max'])}]")
            if "swarmsync" in present:
                ours = by_impl["swarmsync"].get("metrics", {}).get(m)
                for p in peers:
                    theirs = by_impl[p].get("metrics", {}).get(m)
                    if ours and theirs and m != "lagged_pct" and m != "round_trips_per_s":
                        a = advantage(m, ours['median'], theirs['median'])
                        row.append(f"{a:.2f}x" if a >= 0.1 else f"{a:.2g}x")  # 0.0027x, not 0.00x
                    else:
                        row.append("")
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def check_targets(results):
    checks = []
    for case, metric, peer, factor in targets(results.keys()):
        ours = results.get(case, {}).get("swarmsync", {}).get("metrics", {}).get(metric)
        theirs = results.get(case, {}).get(peer, {}).get("metrics", {}).get(metric)
        if not ours or not theirs:
            checks.append({"case": case, "metric": metric, "peer": peer, "factor": factor, "status": "not measured"})
            continue
        a = advantage(metric, ours["median"], theirs["median"])
        checks.append({"case": case, "metric": metric, "peer": peer, "factor": factor, "advantage": round(a, 3),
                       "status": "met" if a >= factor else "missed"})
    # A subscriber that keeps up sees no Lagged: the paced broadcast cases.
    for case, by_impl in results.items():
        if case.startswith("broadcast_") and case.endswith("_paced") and "swarmsync" in by_impl:
            lag = by_impl["swarmsync"].get("metrics", {}).get("lagged_pct")
            if lag is not None:
                checks.append({"case": case, "metric": "lagged_pct", "peer": None, "factor": None,
                               "max": lag["max"], "status": "met" if lag["max"] == 0 else "missed"})
    return checks


def describe(check):
    if check["peer"] is None:
        return f"{check['case']}: a subscriber that keeps up never lags (worst run {check['max']:.3f}% lagged)"
    want = f"at least {check['factor']}x {check['peer']}" if check["factor"] != 1.0 else f"no worse than {check['peer']}"
    got = f", got {check['advantage']:.2f}x" if "advantage" in check else ""
    return f"{check['case']} {UNITS.get(check['metric'], check['metric'])}: {want}{got}"


def broadcast_order(case):
    """broadcast_S_cC_pacing sorted by capacity, then pacing, then subscribers: each family's
    growth with subscribers side by side."""
    parts = case.split("_")
    try:
        return (int(parts[2][1:]), parts[3] == "paced", int(parts[1]))
    except (IndexError, ValueError):
        return (float("inf"), True, 0)


def draw_chart(results, impls, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("mpsc and bounded mpsc, M msg/s (higher is better)", "mmsg_per_s",
         [c for c in results if c.startswith(("mpsc_", "bounded_"))]),
        ("broadcast, M deliveries/s (higher is better)", "mdeliveries_per_s",
         sorted((c for c in results if c.startswith("broadcast_")), key=broadcast_order)),
        ("ping-pong round trip, ns (lower is better)", None, ["pingpong"]),
    ]
    # About 1.2 inches per group of bars, so that the slanted labels of the widest panel do not
    # overlap (12 broadcast cases); at least the 12 inches the chart always had.
    groups = max(len(cases) for _, _, cases in panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(12.0, 1.2 * groups + 1.5), 13))
    colors = {"swarmsync": "#1f77b4", "tokio": "#d62728", "asio": "#2ca02c", "moodycamel": "#7f7f7f", "cnats": "#9467bd"}
    for ax, (title, metric, cases) in zip(axes, panels):
        if metric is None:  # ping-pong: p50 and p99 as groups
            groups = [("p50", "rt_p50_ns"), ("p99", "rt_p99_ns")]
            labels = [g for g, _ in groups]
            series = {i: [results.get("pingpong", {}).get(i, {}).get("metrics", {}).get(m) for _, m in groups]
                      for i in impls}
            ax.set_yscale("log")
        else:
            labels = [c.replace("broadcast_", "b ") for c in cases]
            series = {i: [results[c].get(i, {}).get("metrics", {}).get(metric) for c in cases] for i in impls}
        present = [i for i in impls if any(series[i])]
        width = 0.8 / max(1, len(present))
        for k, impl in enumerate(present):
            xs, ys, lo, hi = [], [], [], []
            for x, s in enumerate(series[impl]):
                if s:
                    xs.append(x + (k - (len(present) - 1) / 2) * width)
                    ys.append(s["median"])
                    lo.append(s["median"] - s["min"])
                    hi.append(s["max"] - s["median"])
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=impl, color=colors.get(impl))
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("swarmsync and its peers: median of runs, bars from min to max", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    ap.add_argument("--cases", default="", help="only cases matching this regular expression")
    ap.add_argument("--impls", default=",".join(ORDER), help="comma-separated implementations to run")
    ap.add_argument("--quick", action="store_true", help="a smoke: scale 0.01, 1 run, writes nothing")
    ap.add_argument("--bin-dir", default=os.path.join(here, "..", "build", "bench", "bench"),
                    help="folder of the C++ benchmark programs")
    ap.add_argument("--tokio", default=os.path.join(here, "..", "build", "tokio-peer", "release", "tokio-peer"),
                    help="the tokio peer program")
    ap.add_argument("--out", default=os.path.join(here, "results"), help="folder for the results")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    try:
        case_filter = re.compile(args.cases)
    except re.error as e:
        ap.error(f"--cases is not a regular expression: {e}")
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    unknown = [i for i in impls if i not in ORDER]
    if unknown:
        ap.error(f"unknown implementation(s) {', '.join(unknown)}; known: {', '.join(ORDER)}")
    programs = {
        "swarmsync": os.path.join(args.bin_dir, "swarmsync-bench"),
        "asio": os.path.join(args.bin_dir, "asio-peer"),
        "moodycamel": os.path.join(args.bin_dir, "moodycamel-peer"),
        "cnats": os.path.join(args.bin_dir, "cnats-peer"),
        "tokio": args.tokio,
    }
    scale, runs = (0.01, 1) if args.quick else (1.0, args.runs)

    cases_of = {}
    for impl in impls:
        prog = programs[impl]
        if not os.access(prog, os.X_OK):
            sys.exit(f"run.py: {impl}: program {prog} is missing; build it with scripts/bench.sh")
        listed = subprocess.run([prog, "--list"], capture_output=True, text=True, check=True).stdout.split()
        cases_of[impl] = [c for c in listed if case_filter.search(c)]
    all_cases = []
    for impl in impls:
        all_cases += [c for c in cases_of[impl] if c not in all_cases]
    if not all_cases:
        sys.exit(f"run.py: no case matches {args.cases!r}")

    samples = {}  # case -> impl -> metric -> [values]
    errors = {}   # case -> impl -> message
    for case in all_cases:
        have = [i for i in impls if case in cases_of[i]]
        print(f"{case}: {', '.join(have)} x {runs}", file=sys.stderr, flush=True)
        for _ in range(runs):
            for impl in have:
                if case in errors.get(impl, {}):
                    continue
                try:
                    metrics = run_once(programs[impl], case, scale, timeout=600)
                except RuntimeError as e:
                    errors.setdefault(impl, {})[case] = str(e)
                    print(f"  FAILED {e}", file=sys.stderr)
                    continue
                for m, v in metrics.items():
                    samples.setdefault(case, {}).setdefault(impl, {}).setdefault(m, []).append(v)

    results = {}
    for case in all_cases:
        for impl in impls:
            if case not in cases_of[impl]:
                continue
            entry = {"metrics": {}}
            for m, vs in samples.get(case, {}).get(impl, {}).items():
                entry["metrics"][m] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "runs": vs}
            if case in errors.get(impl, {}):
                entry["error"] = errors[impl][case]
            results.setdefault(case, {})[impl] = entry

    checks = check_targets(results)
    tables = build_tables(results, impls)
    verdicts = "\n".join(f"- {'met' if c['status'] == 'met' else c['status'].upper()}: {describe(c)}" for c in checks)
    print(tables)
    print("Targets (DESIGN.md section 5; a scaling case or protocol variation takes its base case's):\n" + verdicts)

    failed = sum(len(v) for v in errors.values())
    if args.quick:
        print(f"quick run: {failed} failed", file=sys.stderr)
        return 1 if failed else 0

    os.makedirs(args.out, exist_ok=True)
    machine = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "runs": runs,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": machine, "cases": results, "targets": checks}, f, indent=1)
    with open(os.path.join(args.out, "RESULTS.md"), "w") as f:
        f.write("# Benchmark results\n\n")
        f.write(f"Made by `./scripts/bench.sh` on {machine['date']}: {machine['cpu']}, {machine['cores']} cores, "
                f"Linux {machine['kernel']}. Each figure is the median of {runs} runs, [min..max] beside it; "
                "\"swarmsync vs X\" is how many times better swarmsync did (higher throughput, or lower "
                "latency and memory). What the cases run: [bench/README.md](../README.md); why a target is "
                "missed: [bench/README.md, Findings](../README.md#findings).\n\n")
        f.write("![chart](chart.png)\n\n## Targets (DESIGN.md section 5; a scaling case or protocol variation takes its base case's)\n\n" + verdicts + "\n\n## Figures\n\n")
        f.write(tables)
    draw_chart(results, impls, os.path.join(args.out, "chart.png"))
    print(f"wrote {args.out}/results.json, RESULTS.md, chart.png", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
