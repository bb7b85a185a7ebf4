import Foundation
import StateCoordinator

/// Workload 2: P writer processes incrementing one counter; total commits/s against P processes
/// of the C floor, and fairness (slowest process's finish time ÷ fastest's); beside them what a
/// user might pick instead on the same counter: SQLite (WAL, `synchronous=FULL`), Redis
/// (`appendonly yes`, `appendfsync always`) and the seed's Python writer.
struct ContentionWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) throws {
        for processes in [1, 2, 4, 8] {
            let total = quick ? 400 : 4000
            let perProcess = total / processes
            let plain = try writers(processes: processes, perProcess: perProcess, combining: false)
            let combined = try writers(processes: processes, perProcess: perProcess, combining: true)
            let floorDir = try BenchDirectory()
            let floors = try (0..<processes).map { _ in
                try ChildProcess("state-floor", ["commit", floorDir.path, "\(perProcess)", "\(1 << 10)", "full"])
            }
            let floor = try floors.map { try WorkerTiming(lines: $0.lines()) }
            let plainRate = WorkerTiming.throughput(plain.timings)
            let combinedRate = WorkerTiming.throughput(combined.timings)
            let floorRate = WorkerTiming.throughput(floor)
            let sqliteRate = try Baselines.sqlite(processes: processes, perProcess: perProcess)
            let redisRate = try Baselines.redis(processes: processes, perProcess: perProcess)
            let seedRate = try Baselines.seed(processes: processes, perProcess: perProcess, size: 1 << 10)
            let configuration = "P=\(processes), full, 1 KiB"
            let plainLatency = LatencySummary(nanoseconds: plain.timings.flatMap(\.latencies))
            let combinedLatency = LatencySummary(nanoseconds: combined.timings.flatMap(\.latencies))
            report(BenchRow(
                workload: "contention", configuration: configuration + ", plain (typed closures)", metric: "commits/s",
                ours: plainRate, baseline: floorRate, baselineName: "C floor", target: "≥ 0.9×",
                met: plainRate >= 0.9 * floorRate,
                note: String(format: "fairness %.2f; per-commit %@", WorkerTiming.fairness(plain.timings), plainLatency.text)))
            // Combining: fairness ≤ 1.2 at P = 8, and p99 no worse than the plain hand-over's at the same P.
            let fairness = WorkerTiming.fairness(combined.timings)
            let fairnessMet = processes < 8 || fairness <= 1.2
            let p99Met = combinedLatency.p99 <= plainLatency.p99
            report(BenchRow(
                workload: "contention", configuration: configuration + ", combining (apply)", metric: "updates/s",
                ours: combinedRate, baseline: plainRate, baselineName: "plain hand-over, same run",
                target: processes == 8 ? "fairness ≤ 1.2, p99 ≤ plain's" : "p99 ≤ plain's", met: fairnessMet && p99Met,
                note: String(format: "fairness %.2f; per-update %@; %.2f updates per commit", fairness, combinedLatency.text,
                    Double(processes * perProcess) / Double(max(1, combined.commits)))))
            // With combining, P writers should pass SQLite: ≥ 1× at P = 2, ≥ 2× at P = 8.
            let sqliteTarget: Double? = processes == 2 ? 1 : processes == 8 ? 2 : nil
            report(BenchRow(
                workload: "contention", configuration: configuration + ", combining (apply)", metric: "updates/s", ours: combinedRate,
                baseline: sqliteRate, baselineName: "SQLite WAL, synchronous=FULL", target: sqliteTarget.map { "≥ \(Int($0))×" },
                met: sqliteTarget.map { combinedRate >= $0 * sqliteRate }))
            report(BenchRow(
                workload: "contention", configuration: configuration + ", combining (apply)", metric: "updates/s",
                ours: combinedRate, baseline: redisRate, baselineName: "Redis INCR, appendfsync always"))
            report(BenchRow(
                workload: "contention", configuration: configuration + ", plain (typed closures)", metric: "commits/s",
                ours: plainRate, baseline: sqliteRate, baselineName: "SQLite WAL, synchronous=FULL"))
            report(BenchRow(
                workload: "contention", configuration: configuration + ", plain (typed closures)", metric: "commits/s",
                ours: plainRate, baseline: seedRate, baselineName: "seed: Python mkstemp + os.replace"))
        }
    }

    /// P `worker incr` processes on a fresh store; checks that no increment was lost and returns
    /// their timings and the number of versions committed.
    private func writers(processes: Int, perProcess: Int, combining: Bool) throws -> (timings: [WorkerTiming], commits: UInt64) {
        let dir = try BenchDirectory()
        let store = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 1 << 10))
        let workers = try (0..<processes).map { _ in
            try ChildProcess("state-bench", ["worker", "incr", "--dir", dir.path, "--count", "\(perProcess)"] + (combining ? ["--combining"] : []))
        }
        let timings = try workers.map { try WorkerTiming(lines: $0.lines()) }
        let final = try store.read()
        guard final.state.counter == Int64(perProcess * processes) else {
            throw BenchFailure("lost update under contention\(combining ? " (combining)" : ""): \(final.state.counter) ≠ \(perProcess * processes)")
        }
        return (timings, final.version)
    }
}

/// The alternatives a user might pick instead, on the same counter workload.
enum Baselines {
    /// P processes of `state-floor sqlite`; the final counter must equal the number of commits.
    static func sqlite(processes: Int, perProcess: Int) throws -> Double {
        let dir = try BenchDirectory()
        let database = dir.path + "/state.db"
        _ = try ChildProcess("state-floor", ["sqlite", database, "0"]).lines()  // create the table once
        let workers = try (0..<processes).map { _ in try ChildProcess("state-floor", ["sqlite", database, "\(perProcess)"]) }
        let outputs = try workers.map { try $0.lines() }
        let final = outputs.compactMap { $0.last(where: { $0.hasPrefix("counter ") }) }.compactMap { Int($0.dropFirst(8)) }.max()
        guard final == processes * perProcess else { throw BenchFailure("SQLite lost updates: \(final ?? -1)") }
        return WorkerTiming.throughput(try outputs.map { try WorkerTiming(lines: $0) })
    }

    /// P processes of `state-floor redis` doing `INCR` against a Redis server started for this
    /// measurement on a loopback port, with every write fsynced before it is answered
    /// (`appendonly yes`, `appendfsync always`: Redis fsyncs its append-only file once per event-loop
    /// turn, for every client's writes of that turn). The final counter must equal the number of
    /// increments.
    static func redis(processes: Int, perProcess: Int) throws -> Double {
        let dir = try BenchDirectory()
        let port = try LoopbackPort.free()
        let server = try ChildProcess(
            "/usr/bin/redis-server",
            ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", dir.path, "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--daemonize", "no", "--logfile", ""])
        defer { server.kill() }
        try LoopbackPort.waitUntilListening(port, timeout: .seconds(20))
        let workers = try (0..<processes).map { _ in try ChildProcess("state-floor", ["redis", "\(port)", "\(perProcess)"]) }
        let outputs = try workers.map { try $0.lines() }
        let final = outputs.compactMap { $0.last(where: { $0.hasPrefix("counter ") }) }.compactMap { Int($0.dropFirst(8)) }.max()
        guard final == processes * perProcess else { throw BenchFailure("Redis lost increments: \(final ?? -1)") }
        return WorkerTiming.throughput(try outputs.map { try WorkerTiming(lines: $0) })
    }

    /// P processes of the seed's Python writer; the final counter must equal the number of commits.
    static func seed(processes: Int, perProcess: Int, size: Int) throws -> Double {
        let dir = try BenchDirectory()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Seed/seed_writer.py").path
        let workers = try (0..<processes).map { _ in
            try ChildProcess("/usr/bin/env", ["python3", script, dir.path, "\(perProcess)", "\(size)"])
        }
        let timings = try workers.map { try WorkerTiming(lines: $0.lines()) }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/trading_state.json"))
        let counter = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["counter"] as? Int
        guard counter == processes * perProcess else { throw BenchFailure("the seed lost updates: \(counter ?? -1)") }
        return WorkerTiming.throughput(timings)
    }
}

/// What a `worker incr` process reports: when it started and finished, and each commit's latency.
struct WorkerTiming {
    var start: Int64
    var end: Int64
    var latencies: [Int64]

    init(lines: [Substring]) throws {
        var start: Int64?, end: Int64?
        latencies = []
        for line in lines {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let value = Int64(fields[1]) else { continue }
            switch fields[0] {
            case "start": start = value
            case "end": end = value
            case "l": latencies.append(value)
            default: break
            }
        }
        guard let start, let end else { throw BenchFailure("worker output incomplete") }
        self.start = start
        self.end = end
    }

    static func throughput(_ workers: [WorkerTiming]) -> Double {
        let first = workers.map(\.start).min()!, last = workers.map(\.end).max()!
        return Double(workers.map(\.latencies.count).reduce(0, +)) / (Double(last - first) / 1e9)
    }

    /// Slowest finish ÷ fastest finish, both measured from the common start.
    static func fairness(_ workers: [WorkerTiming]) -> Double {
        let start = workers.map(\.start).min()!
        let finishes = workers.map { Double($0.end - start) }
        return finishes.max()! / finishes.min()!
    }
}
