import Prometheus
import StateCoordinator

/// Workload 9: what the writer's swift-metrics figures cost a commit. The same 1 KiB commits
/// with `StateStoreOptions.metricsFactory` set to a real backend (swift-prometheus's
/// `PrometheusMetricsFactory`, own registry) and left nil, in alternating blocks of the same
/// run so that the machine's drift hits both sides alike.
struct MetricsCostWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) throws {
        for durability in [Durability.none, .full] {
            let blocks = quick ? 4 : 10
            let perBlock = durability == .none ? (quick ? 200 : 1000) : (quick ? 50 : 200)
            let dir = try BenchDirectory()
            _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 1 << 10))
            var plain = StateStoreOptions(durability: durability)
            plain.metricsFactory = nil
            var measured = StateStoreOptions(durability: durability)
            measured.metricsFactory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
            let without = try StateStore<BenchState>(directory: dir.path, options: plain)
            let with = try StateStore<BenchState>(directory: dir.path, options: measured)
            var samples: (with: [Int64], without: [Int64]) = ([], [])
            for block in 0..<blocks {
                // Alternate which side goes first, too.
                for side in block % 2 == 0 ? [true, false] : [false, true] {
                    let store = side ? with : without
                    for _ in 0..<perBlock {
                        let start = Clock.monotonic()
                        try store.update { $0.counter += 1 }
                        let elapsed = Clock.monotonic() - start
                        if side { samples.with.append(elapsed) } else { samples.without.append(elapsed) }
                    }
                }
            }
            let total = blocks * perBlock * 2
            guard try without.read().state.counter == Int64(total) else { throw BenchFailure("lost update in the metrics workload") }
            let ours = LatencySummary(nanoseconds: samples.with), base = LatencySummary(nanoseconds: samples.without)
            for (metric, a, b) in [("p50 µs", ours.p50, base.p50), ("p99 µs", ours.p99, base.p99)] {
                report(BenchRow(
                    workload: "metrics", configuration: "1 KiB, \(durability.rawValue), PrometheusMetricsFactory", metric: metric,
                    ours: a, baseline: b, baselineName: "metricsFactory nil, same store, alternating blocks",
                    note: "\(samples.with.count) commits each side"))
            }
        }
    }
}
