import StateCoordinator

/// Workload 2: P writer processes incrementing one counter; total commits/s against P processes
/// of the C floor, and fairness (slowest process's finish time ÷ fastest's).
struct ContentionWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) throws {
        for processes in [1, 2, 4, 8] {
            let total = quick ? 400 : 4000
            let perProcess = total / processes
            let dir = try BenchDirectory()
            let store = try StateStore<BenchState>.create(in: dir.path, initial: BenchState(size: 1 << 10))
            let workers = try (0..<processes).map { _ in
                try ChildProcess("state-bench", ["worker", "incr", "--dir", dir.path, "--count", "\(perProcess)"])
            }
            let ours = try workers.map { try WorkerTiming(lines: $0.lines()) }
            let final = try store.read()
            guard final.state.counter == Int64(perProcess * processes) else {
                throw BenchFailure("lost update under contention: \(final.state.counter) ≠ \(perProcess * processes)")
            }
            let floorDir = try BenchDirectory()
            let floors = try (0..<processes).map { _ in
                try ChildProcess("state-floor", ["commit", floorDir.path, "\(perProcess)", "\(1 << 10)", "full"])
            }
            let floor = try floors.map { try WorkerTiming(lines: $0.lines()) }
            let oursRate = WorkerTiming.throughput(ours)
            let floorRate = WorkerTiming.throughput(floor)
            report(BenchRow(
                workload: "contention", configuration: "P=\(processes), full, 1 KiB", metric: "commits/s",
                ours: oursRate, baseline: floorRate, baselineName: "C floor", target: "≥ 0.85×",
                met: oursRate >= 0.85 * floorRate,
                note: String(format: "fairness %.2f; per-commit %@", WorkerTiming.fairness(ours),
                    LatencySummary(nanoseconds: ours.flatMap(\.latencies)).text)))
        }
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
