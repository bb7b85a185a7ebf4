import StateCoordinator

/// Workload 1: one process committing sequentially, per state size and durability level, against
/// the C floor doing only the protocol's system calls.
struct CommitCostWorkload {
    let quick: Bool

    static let sizes = [1 << 10, 64 << 10, 1 << 20]

    func run(report: (BenchRow) -> Void) throws {
        for size in Self.sizes {
            for durability in Durability.allCases {
                let count = quick ? (size >= 1 << 20 ? 20 : 150) : (size >= 1 << 20 ? 200 : 1000)
                let ours = try measureOurs(size: size, durability: durability, count: count)
                let floor = try measureFloor(size: size, durability: durability, count: count)
                let configuration = "\(size >> 10) KiB, \(durability.rawValue)"
                let oursSummary = LatencySummary(nanoseconds: ours)
                let floorSummary = LatencySummary(nanoseconds: floor)
                let gated = size <= 64 << 10
                report(BenchRow(
                    workload: "commit", configuration: configuration, metric: "p50 µs", ours: oursSummary.p50,
                    baseline: floorSummary.p50, baselineName: "C floor", target: gated ? "≤ 1.2×" : nil,
                    met: gated ? oursSummary.p50 <= 1.2 * floorSummary.p50 : nil,
                    note: "p99 \(BenchRow.format(oursSummary.p99)) vs \(BenchRow.format(floorSummary.p99)); max \(BenchRow.format(oursSummary.max))"))
                report(BenchRow(
                    workload: "commit", configuration: configuration, metric: "commits/s",
                    ours: Self.rate(ours), baseline: Self.rate(floor), baselineName: "C floor"))
            }
        }
    }

    static func rate(_ nanoseconds: [Int64]) -> Double {
        Double(nanoseconds.count) / (Double(nanoseconds.reduce(0, +)) / 1e9)
    }

    private func measureOurs(size: Int, durability: Durability, count: Int) throws -> [Int64] {
        let dir = try BenchDirectory()
        let store = try StateStore<BenchState>.create(
            directory: dir.path, initial: BenchState(size: size), options: StateStoreOptions(durability: durability))
        for _ in 0..<5 { try store.update { $0.counter += 1 } }  // warm-up
        var samples: [Int64] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = Clock.monotonic()
            try store.update { $0.counter += 1 }
            samples.append(Clock.monotonic() - start)
        }
        let final = try store.read()
        guard final.state.counter == Int64(count + 5), final.version == UInt64(count + 5) else {
            throw BenchFailure("lost update: counter \(final.state.counter) after \(count + 5) commits")
        }
        return samples
    }

    private func measureFloor(size: Int, durability: Durability, count: Int) throws -> [Int64] {
        let dir = try BenchDirectory()
        let floor = try ChildProcess("state-floor", ["commit", dir.path, "\(count)", "\(size)", durability.rawValue])
        return try WorkerTiming(lines: floor.lines()).latencies
    }
}
