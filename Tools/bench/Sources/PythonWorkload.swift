import Foundation
import StateCoordinator

/// Workload 10: the Python package (Sources/python) as a bot uses it. A 1 KiB commit through
/// `Store.update` against the seed's `mkstemp` + `os.replace` (with and without its fsync) and
/// the C floor; propagation to the package's `Reader` against the C inotify reader; the
/// acknowledgement round trip with Python readers against Swift ones. All in the same run.
struct PythonWorkload {
    let quick: Bool
    var readerCounts: [Int] = []

    /// Commits of a propagation or acknowledgement measurement are paced like a busy bot's: a
    /// Python reader spends far more CPU per version than the C reader, and ten of them at
    /// 1 commit/ms would measure a 2-core machine's run queue, not the reader.
    static let pacing = PropagationWorkload.Pacing.perFiveMilliseconds

    func run(report: (BenchRow) -> Void) throws {
        try commit(report: report)
        try propagation(report: report)
        try acknowledgement(report: report)
    }

    private func commit(report: (BenchRow) -> Void) throws {
        let count = quick ? 150 : 1000
        let size = 1 << 10
        let dir = try BenchDirectory()
        _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: size))
        let python = LatencySummary(nanoseconds: try WorkerTiming(lines: PythonBench.start(["commit", dir.path, "\(count)"]).lines()).latencies)
        guard try ReadOnlyStateStore<BenchState>(directory: dir.path).read().state.counter == Int64(count + 5) else {
            throw BenchFailure("the Python package lost an update")
        }
        let seed = LatencySummary(nanoseconds: try Self.seed(count: count, size: size, fsync: true))
        let unsynced = LatencySummary(nanoseconds: try Self.seed(count: count, size: size, fsync: false))
        let floorDir = try BenchDirectory()
        let floor = LatencySummary(
            nanoseconds: try WorkerTiming(lines: ChildProcess("state-floor", ["commit", floorDir.path, "\(count)", "\(size)", "full"]).lines())
                .latencies)
        let configuration = "1 KiB commit, full durability, Python Store.update"
        let note = "p99 \(BenchRow.format(python.p99)) µs; baselines' p99: seed \(BenchRow.format(seed.p99)), seed without fsync \(BenchRow.format(unsynced.p99)), C floor \(BenchRow.format(floor.p99))"
        report(BenchRow(
            workload: "python", configuration: configuration, metric: "p50 µs", ours: python.p50, baseline: seed.p50,
            baselineName: "seed: mkstemp + fsync + os.replace", target: "≤ 1.5×", met: python.p50 <= 1.5 * seed.p50, note: note))
        report(BenchRow(
            workload: "python", configuration: configuration, metric: "p50 µs", ours: python.p50, baseline: unsynced.p50,
            baselineName: "seed without fsync (not durable)"))
        report(BenchRow(
            workload: "python", configuration: configuration, metric: "p50 µs", ours: python.p50, baseline: floor.p50,
            baselineName: "C floor"))
    }

    /// The seed's writer alone (Seed/seed_writer.py), `count` commits of a `size`-byte state.
    static func seed(count: Int, size: Int, fsync: Bool) throws -> [Int64] {
        let dir = try BenchDirectory()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Seed/seed_writer.py").path
        let child = try ChildProcess("/usr/bin/env", ["python3", script, dir.path, "\(count)", "\(size)"] + (fsync ? [] : ["nofsync"]))
        return try WorkerTiming(lines: child.lines()).latencies
    }

    private func propagation(report: (BenchRow) -> Void) throws {
        let commits = quick ? 200 : 1000
        let workload = PropagationWorkload(quick: quick)
        for readers in readerCounts.isEmpty ? [1, 10] : readerCounts {
            let floor = try workload.measure(readers: readers, pacing: Self.pacing, commits: commits, kind: .floor)
            let python = try workload.measure(readers: readers, pacing: Self.pacing, commits: commits, kind: .python)
            let configuration = "R=\(readers), \(Self.pacing.rawValue), 4 KiB, Python Reader"
            report(BenchRow(
                workload: "python", configuration: configuration, metric: "p50 µs", ours: python.summary.p50,
                baseline: floor.summary.p50, baselineName: "C inotify reader", target: "≤ 3×",
                met: python.summary.p50 <= 3 * floor.summary.p50,
                note: "rename → the bot's thread returns from wait_until; versions seen \(python.delivered)/\(commits * readers) (C: \(floor.delivered)); reader CPU per commit \(BenchRow.format(python.cpuPerCommit)) µs (C: \(BenchRow.format(floor.cpuPerCommit)))"))
            report(BenchRow(
                workload: "python", configuration: configuration, metric: "p99 µs", ours: python.summary.p99,
                baseline: floor.summary.p99, baselineName: "C inotify reader",
                note: "max \(BenchRow.format(python.summary.max)) (C: \(BenchRow.format(floor.summary.max)))"))
        }
    }

    private func acknowledgement(report: (BenchRow) -> Void) throws {
        let commits = quick ? 30 : 200
        let workload = AcknowledgementWorkload(quick: quick, readerCounts: [])
        for readers in readerCounts.isEmpty ? [1, 10] : readerCounts {
            let (python, floorBesidePython) = try workload.measure(readers: readers, commits: commits, python: true)
            let (swift, _) = try workload.measure(readers: readers, commits: commits)
            for (metric, ours, base) in [("p50 µs", python.p50, swift.p50), ("p99 µs", python.p99, swift.p99)] {
                report(BenchRow(
                    workload: "python", configuration: "R=\(readers) Python reader processes, all acknowledged", metric: metric,
                    ours: ours, baseline: base, baselineName: "Swift reader processes, same workload",
                    note: "rename → waitForAcknowledgements returned; each Python reader's main thread waits for the version and acknowledges it; the C reader beside them: p50 \(BenchRow.format(floorBesidePython.p50)) µs"))
            }
        }
    }
}
