"""Renders a state-bench run's JSON (state-bench-results.json) as PNG charts.

Usage: python3 plot.py RESULTS.json OUTPUT_DIR

Writes, for the workloads the run had:
  commit-latency.png   commit p50 by state size, ours against the C floor, one panel per durability
  writer-throughput.png  updates/s by writer processes: ours (plain and combining), the C floor, SQLite WAL,
                        Redis and the seed (Python os.replace)
  propagation.png      rename-to-reader p50 and p99 per configuration, ours against the C reader
Needs matplotlib (python3 -m pip install matplotlib)."""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path) as handle:
        return json.load(handle)


def commit_latency(rows, out):
    # Each configuration has a row against the C floor and one against the floor + SHA-256: plot the first.
    rows = [r for r in rows if r["workload"] == "commit" and r["metric"] == "p50 µs" and r.get("baselineName") == "C floor"]
    if not rows:
        return None
    levels = []
    for r in rows:
        level = r["configuration"].split(", ")[1]
        if level not in levels:
            levels.append(level)
    figure, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), squeeze=False)
    for axis, level in zip(axes[0], levels):
        picked = [r for r in rows if r["configuration"].endswith(", " + level)]
        sizes = [r["configuration"].split(", ")[0] for r in picked]
        x = range(len(picked))
        axis.bar([i - 0.2 for i in x], [r["ours"] for r in picked], width=0.4, label="StateCoordinator")
        axis.bar([i + 0.2 for i in x], [r.get("baseline") or 0 for r in picked], width=0.4, label="C floor")
        for i, r in zip(x, picked):
            if r.get("ratio"):
                axis.annotate("%.2f×" % r["ratio"], (i - 0.2, r["ours"]), ha="center", va="bottom", fontsize=8)
        axis.set_xticks(list(x), sizes)
        axis.set_yscale("log")
        axis.set_title("durability " + level)
        axis.set_ylabel("commit p50 (µs)")
    axes[0][0].legend(fontsize=8)
    figure.suptitle("One writer's commit latency by state size")
    return save(figure, out, "commit-latency.png")


def writer_throughput(rows, out):
    rows = [r for r in rows if r["workload"] == "contention" and r["metric"] in ("commits/s", "updates/s")]
    if not rows:
        return None
    by_p = {}
    for r in rows:
        p = int(re.match(r"P=(\d+)", r["configuration"]).group(1))
        series = by_p.setdefault(p, {})
        # Ours twice: the plain hand-over (typed closures, commits/s) and combining (apply, updates/s).
        ours = "StateCoordinator, combining" if "combining" in r["configuration"] else "StateCoordinator, plain"
        series[ours] = r["ours"]
        if r.get("baselineName") and r.get("baseline") is not None and not r["baselineName"].startswith("plain hand-over"):
            series[r["baselineName"]] = r["baseline"]
    ps = sorted(by_p)
    names = []
    for p in ps:
        for name in by_p[p]:
            if name not in names:
                names.append(name)
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for name in names:
        points = [(p, by_p[p][name]) for p in ps if name in by_p[p]]
        axis.plot([p for p, _ in points], [v for _, v in points], marker="o", label=name)
    axis.set_xscale("log", base=2)
    axis.set_xticks(ps, [str(p) for p in ps])
    axis.set_xlabel("writer processes on one counter (P)")
    axis.set_ylabel("updates per second")
    axis.set_title("Writers together, full durability, 1 KiB")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return save(figure, out, "writer-throughput.png")


def propagation(rows, out):
    rows = [r for r in rows if r["workload"] == "propagation" and r["metric"] in ("p50 µs", "p99 µs")
            and r.get("baselineName") == "C inotify reader"]
    if not rows:
        return None
    configurations = []
    for r in rows:
        if r["configuration"] not in configurations:
            configurations.append(r["configuration"])
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(configurations) + 1.6))
    for i, configuration in enumerate(configurations):
        metrics = {r["metric"]: r for r in rows if r["configuration"] == configuration}
        p50, p99 = metrics.get("p50 µs"), metrics.get("p99 µs")
        for offset, key, colour, label in ((-0.15, "ours", "tab:blue", "StateCoordinator (or the row's C variant)"), (0.15, "baseline", "tab:orange", "C inotify reader")):
            low = p50[key] if p50 else None
            high = p99[key] if p99 else None
            if low is not None and high is not None:
                axis.plot([low, high], [i + offset, i + offset], color=colour, linewidth=3, label=label if i == 0 else None)
            if low is not None:
                axis.plot([low], [i + offset], marker="o", color=colour)
    axis.set_yticks(range(len(configurations)), configurations, fontsize=7)
    axis.set_xscale("log")
    axis.set_xlabel("from the rename until the reader holds the version (µs): dot p50, bar to p99")
    axis.set_title("Propagation against the C reader")
    axis.legend(fontsize=8)
    axis.invert_yaxis()
    return save(figure, out, "propagation.png")


def save(figure, out, name):
    figure.tight_layout()
    path = os.path.join(out, name)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    written = [p for p in (commit_latency(rows, out), writer_throughput(rows, out), propagation(rows, out)) if p]
    if not written:
        sys.exit("plot.py: no commit, contention or propagation rows in %s" % sys.argv[1])
    for path in written:
        print("plot: " + path)


main()
