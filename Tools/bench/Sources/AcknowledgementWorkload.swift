import Foundation
@_spi(FaultInjection) import StateCoordinator
import Synchronization

/// Workload 7: acknowledgements. For R registered reader processes, the time from a commit's
/// rename until every one of them has acknowledged it (the writer's `waitForAcknowledgements`
/// returned), against the same commit's propagation to the C inotify reader, which runs in the
/// same run, beside them. Then the reader's side: the cost of one `acknowledge` call against
/// reading `current`, and of one acknowledgement landing in the registry against a commit.
struct AcknowledgementWorkload {
    let quick: Bool
    let readerCounts: [Int]

    func run(report: (BenchRow) -> Void) throws {
        let counts = readerCounts.isEmpty ? (quick ? [1, 10] : [1, 10, 50]) : readerCounts
        for readers in counts {
            let (acknowledged, floor) = try measure(readers: readers, commits: quick ? 30 : 200)
            for (metric, ours, base) in [
                ("p50 µs", acknowledged.p50, floor.p50), ("p99 µs", acknowledged.p99, floor.p99),
            ] {
                report(BenchRow(
                    workload: "acknowledgement", configuration: "R=\(readers) reader processes, all acknowledged",
                    metric: metric, ours: ours, baseline: base, baselineName: "C inotify reader, same commits",
                    note: "rename → waitForAcknowledgements returned (each reader: watch, acknowledge, record renamed in, writer woken); C: rename → read"))
            }
        }
        try readerSide(report: report)
    }

    /// - Parameter python: the readers are the Python package's (Tools/bench/Python), not Swift watches.
    func measure(readers: Int, commits: Int, python: Bool = false) throws -> (LatencySummary, LatencySummary) {
        let dir = try BenchDirectory()
        _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 4 << 10))
        let floor = try ChildProcess("state-floor", ["watch", dir.path, "state.json", "\(commits)"])
        let children = try (0..<readers).map { index in
            python
                ? try PythonBench.start(["ack", dir.path, "\(commits)", "\(index)"])
                : try ChildProcess("state-bench", ["worker", "ack", "--dir", dir.path, "--until", "\(commits)", "--count", "\(index)"])
        }
        try floor.waitFor("ready")
        for child in children { try child.waitFor("ready") }
        let renames = RenameClock()
        let writer = try StateStore<BenchState>(directory: dir.path, options: renames.recording(StateStoreOptions()))
        guard try writer.readers().count == readers else { throw BenchFailure("not every reader registered") }
        var acknowledged: [Int64] = []
        for _ in 1...commits {
            let snapshot = try writer.update { $0.counter += 1 }
            let report = writer.waitForAcknowledgements(of: snapshot, timeout: .seconds(30))
            let done = Clock.realtime()
            guard report.isComplete, report.applied.count == readers else {
                throw BenchFailure("version \(snapshot.version): \(report.applied.count)/\(readers) acknowledged")
            }
            acknowledged.append(done - renames.sent[Int(snapshot.version)])
        }
        try writer.update { $0.counter += 1 }  // unmeasured: tells the readers to exit
        let sent = Array(renames.sent.prefix(commits + 1))
        let deliveries = try floor.deliveries()
        for child in children { _ = try child.lines() }
        return (LatencySummary(nanoseconds: acknowledged), LatencySummary(nanoseconds: PropagationWorkload.staleness(sent: sent, deliveries: deliveries)))
    }

    /// One `acknowledge` call (a memory write and a wake-up of the registration's thread), and
    /// one acknowledgement written to the registry (`acknowledge` + `waitUntilReported`).
    private func readerSide(report: (BenchRow) -> Void) throws {
        let dir = try BenchDirectory()
        let store = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 4 << 10))
        let reader = try StateObservation(label: "bench").reader(in: store)
        defer { reader.close() }
        let calls = quick ? 200_000 : 2_000_000
        var version: UInt64 = 0
        var call = Double.infinity, current = Double.infinity
        for _ in 0..<5 {
            var start = Clock.monotonic()
            for _ in 0..<calls {
                version += 1
                reader.acknowledge(version: version)
            }
            call = min(call, Double(Clock.monotonic() - start) / Double(calls))
            start = Clock.monotonic()
            var sum: UInt64 = 0
            for _ in 0..<calls { sum &+= reader.current.version }
            current = min(current, Double(Clock.monotonic() - start) / Double(calls))
            precondition(sum == 0)
        }
        report(BenchRow(
            workload: "acknowledgement", configuration: "reader.acknowledge(version:), the caller's cost", metric: "ns/call",
            ours: call, baseline: current, baselineName: "reader.current",
            note: "marks coalesce: the registration's own thread writes the newest record"))

        let landings = quick ? 300 : 2000
        let landed = Mutex<[Int64]>([])
        let semaphore = DispatchSemaphore(value: 0)
        let first = version
        Task.detached {
            for landing in 1...UInt64(landings) {
                let start = Clock.monotonic()
                reader.acknowledge(version: first + landing)
                await reader.waitUntilReported()
                landed.withLock { $0.append(Clock.monotonic() - start) }
            }
            semaphore.signal()
        }
        semaphore.wait()
        var commitCost: [Int64] = []
        let uncommitted = try StateStore<BenchState>(directory: dir.path, options: StateStoreOptions(durability: .none))
        for _ in 0..<landings {
            let start = Clock.monotonic()
            try uncommitted.update { $0.counter += 1 }
            commitCost.append(Clock.monotonic() - start)
        }
        let ack = LatencySummary(nanoseconds: landed.withLock { $0 })
        let commit = LatencySummary(nanoseconds: commitCost)
        report(BenchRow(
            workload: "acknowledgement", configuration: "acknowledge + waitUntilReported (record renamed in)", metric: "p50 µs",
            ours: ack.p50, baseline: commit.p50, baselineName: "one commit, durability none",
            note: "p99 \(BenchRow.format(ack.p99)) µs (commit: \(BenchRow.format(commit.p99)) µs); no fsync either way"))
    }
}
