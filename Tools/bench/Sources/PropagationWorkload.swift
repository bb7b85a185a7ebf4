import Foundation
import Synchronization
@_spi(FaultInjection) import StateCoordinator

/// Workload 4: commit-to-delivery latency, from just before the writer's rename to the reader
/// holding the decoded snapshot, for R reader processes, against C readers that only wake and
/// read the file. Writer and readers run in the same run on the same commits' schedule.
struct PropagationWorkload {
    let quick: Bool
    /// Reader counts to measure; empty means the default set.
    var readerCounts: [Int] = []

    enum Pacing: String {
        case perMillisecond = "1 commit/ms", perFiveMilliseconds = "1 commit/5 ms", fullSpeed = "full speed"

        /// Nanoseconds from one commit's start to the next's; nil: back to back.
        var interval: Int64? {
            switch self {
            case .perMillisecond: 1_000_000
            case .perFiveMilliseconds: 5_000_000
            case .fullSpeed: nil
            }
        }
    }

    /// `python`: the Python package's `Reader` (Tools/bench/Python/bench_python.py).
    enum ReaderKind { case ours, reader, floor, floorThroughLibrary, polling, python }

    func run(report: (BenchRow) -> Void) throws {
        let commits = quick ? 300 : 2000
        let defaultCounts = quick ? [1, 10] : [1, 10, 50]
        for readers in readerCounts.isEmpty ? defaultCounts : readerCounts {
            for pacing in [Pacing.perMillisecond, .fullSpeed] {
                let floor = try measure(readers: readers, pacing: pacing, commits: commits, kind: .floor)
                // What the mandated mechanism costs without any Swift: libinotifytools, our watch mask.
                let library = try measure(readers: readers, pacing: pacing, commits: commits, kind: .floorThroughLibrary)
                for (metric, value, base) in [
                    ("p50 µs", library.summary.p50, floor.summary.p50), ("p99 µs", library.summary.p99, floor.summary.p99),
                ] {
                    report(BenchRow(
                        workload: "propagation", configuration: "R=\(readers), \(pacing.rawValue), 4 KiB, C via libinotifytools",
                        metric: metric, ours: value, baseline: base, baselineName: "C inotify reader",
                        note: "C, libinotifytools, StateCoordinator's watch mask, open + fstat + read; reader CPU per commit \(BenchRow.format(library.cpuPerCommit)) µs"))
                }
                for (kind, name) in [(ReaderKind.ours, "snapshots()"), (.reader, "StateReader")] {
                    let ours = try measure(readers: readers, pacing: pacing, commits: commits, kind: kind)
                    let gated = readers <= 10
                    let configuration = "R=\(readers), \(pacing.rawValue), 4 KiB, \(name)"
                    report(BenchRow(
                        workload: "propagation", configuration: configuration, metric: "p50 µs", ours: ours.summary.p50,
                        baseline: floor.summary.p50, baselineName: "C inotify reader", target: gated ? "≤ 2×" : nil,
                        met: gated ? ours.summary.p50 <= 2 * floor.summary.p50 : nil,
                        note: "versions delivered \(ours.delivered)/\(commits * readers) (C: \(floor.delivered)); reader CPU per commit \(BenchRow.format(ours.cpuPerCommit)) µs (C: \(BenchRow.format(floor.cpuPerCommit)))"))
                    report(BenchRow(
                        workload: "propagation", configuration: configuration, metric: "p99 µs", ours: ours.summary.p99,
                        baseline: floor.summary.p99, baselineName: "C inotify reader", target: gated ? "≤ 3×" : nil,
                        met: gated ? ours.summary.p99 <= 3 * floor.summary.p99 : nil,
                        note: "max \(BenchRow.format(ours.summary.max)) (C: \(BenchRow.format(floor.summary.max)))"))
                }
            }
        }
        let polling = try measure(readers: 1, pacing: .perMillisecond, commits: quick ? 100 : 500, kind: .polling)
        let inotify = try measure(readers: 1, pacing: .perMillisecond, commits: quick ? 100 : 500, kind: .ours)
        report(BenchRow(
            workload: "propagation", configuration: "R=1, polling every 100 ms", metric: "p50 µs",
            ours: polling.summary.p50, baseline: inotify.summary.p50, baselineName: "our inotify reader",
            note: "p99 \(BenchRow.format(polling.summary.p99)); delivered \(polling.delivered) (coalesced by design)"))
    }

    struct Result {
        var summary: LatencySummary
        var delivered: Int
        /// Reader CPU time per commit and reader, in µs, from "ready" to the end.
        var cpuPerCommit: Double
    }

    func measure(readers: Int, pacing: Pacing, commits: Int, kind: ReaderKind) throws -> Result {
        let dir = try BenchDirectory()
        _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 4 << 10))
        let children = try (0..<readers).map { _ in try startReader(kind, directory: dir.path, final: commits) }
        for child in children { try child.waitFor("ready") }

        let renames = RenameClock()
        let writer = try StateStore<BenchState>(directory: dir.path, options: renames.recording(StateStoreOptions()))
        let start = Clock.monotonic()
        for commit in 1...commits {
            try writer.update { $0.counter += 1 }
            if let interval = pacing.interval {
                let next = start + Int64(commit) * interval
                let wait = next - Clock.monotonic()
                if wait > 0 { usleep(UInt32(wait / 1000)) }
            }
        }
        let sent = renames.sent
        var latencies: [Int64] = []
        var delivered = 0
        var cpu: Int64 = 0
        for child in children {
            var deliveries: [(version: Int, at: Int64)] = []
            for line in try child.lines() {
                let fields = line.split(separator: " ")
                guard fields.count == 2, let at = Int64(fields[1]) else { continue }
                if fields[0] == "cpu" { cpu += at }
                guard let version = Int(fields[0]), version > 0 else { continue }
                deliveries.append((version, at))
            }
            delivered += deliveries.count
            latencies += Self.staleness(sent: sent, deliveries: deliveries)
        }
        return Result(
            summary: LatencySummary(nanoseconds: latencies), delivered: delivered,
            cpuPerCommit: Double(cpu) / Double(readers * commits) / 1000)
    }

    /// For every committed version, the time from just before its rename until the reader held
    /// that version or a newer one: what a bot waiting on a halt flag experiences, coalescing
    /// included.
    static func staleness(sent: [Int64], deliveries: [(version: Int, at: Int64)]) -> [Int64] {
        var latencies: [Int64] = []
        var next = 0
        let ordered = deliveries.sorted { $0.version < $1.version }
        for version in 1..<sent.count {
            while next < ordered.count, ordered[next].version < version { next += 1 }
            guard next < ordered.count else { break }
            latencies.append(ordered[next].at - sent[version])
        }
        return latencies
    }

    private func startReader(_ kind: ReaderKind, directory: String, final: Int) throws -> ChildProcess {
        switch kind {
        case .floor: try ChildProcess("state-floor", ["watch", directory, "state.json", "\(final)"])
        case .floorThroughLibrary: try ChildProcess("state-floor", ["watch-lib", directory, "state.json", "\(final)"])
        case .ours: try ChildProcess("state-bench", ["worker", "watch", "--dir", directory, "--until", "\(final)"])
        case .reader:
            try ChildProcess("state-bench", ["worker", "watch", "--dir", directory, "--until", "\(final)", "--reader"])
        case .polling:
            try ChildProcess("state-bench", ["worker", "watch", "--dir", directory, "--until", "\(final)", "--poll"])
        case .python: try PythonBench.start(["watch", directory, "\(final)"])
        }
    }
}
