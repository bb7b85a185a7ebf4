import Foundation
import Synchronization
import ToolProgress

/// Where a benchmark run is, for ``ProgressReporter``: the workload running, and the share of the
/// run done, weighing each workload by how long it takes (rough figures from full and quick runs
/// on the project's 2-core machine; the share within a workload is its time so far against that,
/// held below its end until it ends).
final class BenchProgress: Sendable {
    private struct Position: Sendable {
        var index = -1
        var startedAt = ContinuousClock.now
        var rows = 0
    }

    private let workloads: [StateBench.Workload]
    private let quick: Bool
    private let position = Mutex(Position())

    init(workloads: [StateBench.Workload], quick: Bool) {
        self.workloads = workloads
        self.quick = quick
    }

    /// Seconds a workload takes, roughly.
    static func expectedSeconds(_ workload: StateBench.Workload, quick: Bool) -> Double {
        let full: Double =
            switch workload {
            case .commit: 45
            case .contention: 70
            case .group: 15
            case .propagation: 150
            case .size: 60
            case .hotpath: 10
            case .ack: 30
            case .sidecar: 80
            case .metrics: 20
            case .python: 60
            case .etcd: 40
            case .fleet: 90
            }
        return quick ? max(1, full / 25) : full
    }

    func begin(_ workload: StateBench.Workload) {
        position.withLock { position in
            position.index = workloads.firstIndex(of: workload) ?? position.index + 1
            position.startedAt = .now
        }
    }

    func noteRow() { position.withLock { $0.rows += 1 } }

    func status(now: ContinuousClock.Instant = .now) -> ProgressStatus {
        let position = self.position.withLock { $0 }
        guard position.index >= 0, position.index < workloads.count else { return ProgressStatus(phase: "starting", fraction: 0) }
        let weights = workloads.map { Self.expectedSeconds($0, quick: quick) }
        let total = weights.reduce(0, +)
        let done = weights.prefix(position.index).reduce(0, +)
        let current = weights[position.index]
        let elapsed = now - position.startedAt
        let within = min(current * 0.95, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let workload = workloads[position.index]
        return ProgressStatus(
            phase: "\(workload.rawValue) (\(position.index + 1)/\(workloads.count))", fraction: (done + within) / total,
            detail: "\(position.rows) rows so far")
    }
}
