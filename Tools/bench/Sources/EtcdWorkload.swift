import Foundation
import StateCoordinator
import ToolEtcd

/// The store on etcd, on one etcd member (Debian's etcd-server, started here on loopback with its
/// default fsync), each figure beside (a) the file store and (b) a raw client doing the same etcd
/// calls with no library work (`Etcd/etcd_raw.py`: grpcio on the project's trimmed proto), in
/// the same run:
/// - commit latency and commits/s of P = 1 and 8 writer processes incrementing one counter
///   (ours: a Txn on mod_revision chained on the process's last write, a Range first only when
///   it has none, plus the format's work; the raw baseline makes the same calls, and a second raw
///   client a Range before every Txn). Under contention ours backs off with jitter after a lost
///   race, the raw clients retry at once: the P = 8 rows compare what each does, not the same calls;
/// - commit-to-watcher latency: one writer (the raw client writing the store's format, timed just
///   before each Txn is sent) watched at once by our reader process and by a bare etcd watch.
struct EtcdWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) throws {
        let directory = try BenchDirectory()
        let cluster = try LocalEtcdCluster(size: 1, directory: directory.path)
        let member = cluster.members[0].clientURL
        let raw = try RawEtcdClient()
        try withExtendedLifetime(cluster) {
            try commits(member: member, raw: raw, report: report)
            try propagation(member: member, raw: raw, report: report)
        }
    }

    private func commits(member: String, raw: RawEtcdClient, report: (BenchRow) -> Void) throws {
        for processes in [1, 8] {
            let total = quick ? 200 : 2000
            let perProcess = total / processes
            let name = "counter\(processes)"
            let etcd = try EtcdConfiguration(endpoints: [member])
            let store = try StateStore<BenchState>.create(etcd: etcd, name: name, initial: BenchState(size: 1 << 10))
            let ourWorkers = try (0..<processes).map { _ in
                try ChildProcess("state-bench", ["worker", "incr", "--etcd", member, "--name", name, "--count", "\(perProcess)"])
            }
            let ours = try ourWorkers.map { try WorkerTiming(lines: $0.lines()) }
            let final = try store.read()
            guard final.state.counter == Int64(total), final.version == UInt64(total) else {
                throw BenchFailure("lost update on etcd: counter \(final.state.counter), version \(final.version) ≠ \(total)")
            }
            let chainedWorkers = try (0..<processes).map { _ in
                try raw.start(["chain", member, "/bench/chained/\(name)", "\(perProcess)", "\(1 << 10)"])
            }
            let chained = try chainedWorkers.map { try WorkerTiming(lines: $0.lines()) }
            let rawWorkers = try (0..<processes).map { _ in
                try raw.start(["incr", member, "/bench/raw/\(name)", "\(perProcess)", "\(1 << 10)"])
            }
            let bare = try rawWorkers.map { try WorkerTiming(lines: $0.lines()) }
            let fileDirectory = try BenchDirectory()
            _ = try StateStore<BenchState>.create(directory: fileDirectory.path, initial: BenchState(size: 1 << 10))
            let fileWorkers = try (0..<processes).map { _ in
                try ChildProcess("state-bench", ["worker", "incr", "--dir", fileDirectory.path, "--count", "\(perProcess)"])
            }
            let files = try fileWorkers.map { try WorkerTiming(lines: $0.lines()) }

            let configuration = "P=\(processes), 1 KiB, one member"
            let oursLatency = LatencySummary(nanoseconds: ours.flatMap(\.latencies))
            let bareLatency = LatencySummary(nanoseconds: bare.flatMap(\.latencies))
            let fileLatency = LatencySummary(nanoseconds: files.flatMap(\.latencies))
            let chainedLatency = LatencySummary(nanoseconds: chained.flatMap(\.latencies))
            let chainedName = "raw client: Txn chained on its last write, as ours (grpcio)"
            // The target is against the raw client making the same calls as ours (chained).
            report(BenchRow(
                workload: "etcd", configuration: configuration, metric: "commit p50 µs", ours: oursLatency.p50, baseline: chainedLatency.p50,
                baselineName: chainedName, target: processes == 1 ? "≤ 1.3×" : nil,
                met: processes == 1 ? oursLatency.p50 <= 1.3 * chainedLatency.p50 : nil,
                note: String(format: "Range + Txn: p50 %.0f µs; file store (full durability): p50 %.0f µs", bareLatency.p50, fileLatency.p50)))
            report(BenchRow(
                workload: "etcd", configuration: configuration, metric: "commit p99 µs", ours: oursLatency.p99, baseline: chainedLatency.p99,
                baselineName: chainedName,
                note: String(format: "Range + Txn: p99 %.0f µs; file store: p99 %.0f µs", bareLatency.p99, fileLatency.p99)))
            let oursRate = WorkerTiming.throughput(ours)
            report(BenchRow(
                workload: "etcd", configuration: configuration, metric: "commits/s", ours: oursRate, baseline: WorkerTiming.throughput(chained),
                baselineName: chainedName,
                note: String(
                    format: "Range + Txn: %.0f commits/s; file store (full durability): %.0f commits/s; fairness %.2f (chained raw: %.2f)",
                    WorkerTiming.throughput(bare), WorkerTiming.throughput(files), WorkerTiming.fairness(ours), WorkerTiming.fairness(chained))))
        }
    }

    private func propagation(member: String, raw: RawEtcdClient, report: (BenchRow) -> Void) throws {
        let commits = quick ? 100 : 1000
        let etcd = try EtcdConfiguration(endpoints: [member])
        let name = "watched"
        _ = try StateStore<BenchState>.create(etcd: etcd, name: name, initial: BenchState(size: 1 << 10))
        let key = "\(EtcdConfiguration.defaultPrefix)/\(name)/state"
        let ours = try ChildProcess("state-bench", ["worker", "watch", "--etcd", member, "--name", name, "--until", "\(commits)"])
        try ours.waitFor("ready")
        let bare = try raw.start(["watch", member, key, "\(commits)"])
        try bare.waitFor("ready")
        // One commit every 2 ms: each is delivered before the next is sent.
        let writer = try raw.start(["write", member, key, "\(commits)", "2000"])
        var sent = [Int64](repeating: 0, count: commits + 1)
        for line in try writer.lines() {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let version = Int(fields[0]), version <= commits, let at = Int64(fields[1]) else { continue }
            sent[version] = at
        }
        let oursLatency = LatencySummary(nanoseconds: PropagationWorkload.staleness(sent: sent, deliveries: try ours.deliveries()))
        let bareLatency = LatencySummary(nanoseconds: PropagationWorkload.staleness(sent: sent, deliveries: try bare.deliveries()))
        let configuration = "1 reader process, 1 commit / 2 ms, 1 KiB"
        let rawName = "raw etcd watch (grpcio)"
        report(BenchRow(
            workload: "etcd", configuration: configuration, metric: "commit-to-watcher p50 µs", ours: oursLatency.p50,
            baseline: bareLatency.p50, baselineName: rawName, target: "≤ 1.5×", met: oursLatency.p50 <= 1.5 * bareLatency.p50,
            note: "from just before the Txn is sent until the reader holds the version"))
        report(BenchRow(
            workload: "etcd", configuration: configuration, metric: "commit-to-watcher p99 µs", ours: oursLatency.p99,
            baseline: bareLatency.p99, baselineName: rawName))
    }
}
