import StateCoordinator

/// Workload 1: one process committing sequentially, per state size and durability level, against
/// the C floor doing only the protocol's system calls, and against the floor plus the format's own
/// work (SHA-256 of the state bytes, OpenSSL's, in C). The note of each size's last row gives the
/// slope: how much a commit grows per MiB of state, ours beside the floor's.
struct CommitCostWorkload {
    let quick: Bool

    static let sizes = [1 << 10, 64 << 10, 1 << 20, 16 << 20]

    /// The targets: at full durability ≤ 1.1× the floor at 1 KiB, ≤ 1.2× the floor + SHA-256
    /// above; at durability none ≤ 1.3× / 1.5× / 1.5× of the floor + SHA-256 up to 1 MiB.
    static func target(size: Int, durability: Durability) -> (text: String, ratio: Double, againstHashing: Bool)? {
        switch (durability, size) {
        case (.full, 1 << 10): ("≤ 1.1× C floor", 1.1, false)
        case (.full, _): ("≤ 1.2× C floor + SHA-256", 1.2, true)
        case (.none, 1 << 10): ("≤ 1.3× C floor + SHA-256", 1.3, true)
        case (.none, 64 << 10), (.none, 1 << 20): ("≤ 1.5× C floor + SHA-256", 1.5, true)
        default: nil
        }
    }

    func run(report: (BenchRow) -> Void) throws {
        var medians: [Durability: [(size: Int, ours: Double, floor: Double)]] = [:]
        for size in Self.sizes {
            for durability in Durability.allCases {
                let count = quick ? (size >= 16 << 20 ? 4 : size >= 1 << 20 ? 20 : 150) : (size >= 16 << 20 ? 30 : size >= 1 << 20 ? 200 : 1000)
                let ours = LatencySummary(nanoseconds: try measureOurs(size: size, durability: durability, count: count))
                let floor = LatencySummary(nanoseconds: try measureFloor(size: size, durability: durability, count: count, hashing: false))
                let hashing = LatencySummary(nanoseconds: try measureFloor(size: size, durability: durability, count: count, hashing: true))
                medians[durability, default: []].append((size, ours.p50, floor.p50))
                let configuration = "\(Self.label(size)), \(durability.rawValue)"
                let target = Self.target(size: size, durability: durability)
                let note = "p99 \(BenchRow.format(ours.p99)) vs \(BenchRow.format(floor.p99)); max \(BenchRow.format(ours.max))"
                report(BenchRow(
                    workload: "commit", configuration: configuration, metric: "p50 µs", ours: ours.p50,
                    baseline: floor.p50, baselineName: "C floor", target: target.flatMap { $0.againstHashing ? nil : $0.text },
                    met: target.flatMap { $0.againstHashing ? nil : ours.p50 <= $0.ratio * floor.p50 }, note: note))
                var hashingNote = "p99 \(BenchRow.format(hashing.p99))"
                if size == Self.sizes.last, let slope = Self.slope(medians[durability]!) {
                    hashingNote += String(format: "; slope 1 KiB → 16 MiB: ours %.0f µs/MiB, C floor %.0f µs/MiB (%.2f×)", slope.ours, slope.floor, slope.ours / slope.floor)
                }
                report(BenchRow(
                    workload: "commit", configuration: configuration, metric: "p50 µs", ours: ours.p50,
                    baseline: hashing.p50, baselineName: "C floor + SHA-256", target: target.flatMap { $0.againstHashing ? $0.text : nil },
                    met: target.flatMap { $0.againstHashing ? ours.p50 <= $0.ratio * hashing.p50 : nil }, note: hashingNote))
            }
        }
    }

    static func label(_ size: Int) -> String { size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB" }

    /// µs per MiB of state between the smallest and the largest size, from the p50s.
    static func slope(_ points: [(size: Int, ours: Double, floor: Double)]) -> (ours: Double, floor: Double)? {
        guard let first = points.first, let last = points.last, last.size > first.size else { return nil }
        let mebibytes = Double(last.size - first.size) / Double(1 << 20)
        return ((last.ours - first.ours) / mebibytes, (last.floor - first.floor) / mebibytes)
    }

    private func measureOurs(size: Int, durability: Durability, count: Int) throws -> [Int64] {
        let dir = try BenchDirectory()
        let store = try StateStore<BenchState>.create(
            directory: dir.path, initial: BenchState(size: size), settings: StoreSettings(maximumStateBytes: 64 << 20),
            options: StateStoreOptions(durability: durability))
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

    /// The floor writes a file of the size ours writes (state plus its header line).
    private func measureFloor(size: Int, durability: Durability, count: Int, hashing: Bool) throws -> [Int64] {
        let dir = try BenchDirectory()
        let floor = try ChildProcess(
            "state-floor", ["commit", dir.path, "\(count)", "\(size)", durability.rawValue] + (hashing ? ["sha256"] : []))
        return try WorkerTiming(lines: floor.lines()).latencies
    }
}
