import StateCoordinator

/// Workload 3: T concurrent tasks of one process updating one store at full durability; group
/// commit should turn them into far fewer commits than updates.
struct GroupCommitWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) async throws {
        var single: Double?
        for tasks in [1, 8, 64] {
            let updates = quick ? 320 : 3200
            let dir = try BenchDirectory()
            let store = try await StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 1 << 10))
            let start = Clock.monotonic()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<(updates / tasks) { try await store.update { $0.counter += 1 } }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Double(Clock.monotonic() - start) / 1e9
            let final = try await store.read()
            let done = (updates / tasks) * tasks
            guard final.state.counter == Int64(done) else {
                throw BenchFailure("lost update in group commit: \(final.state.counter) ≠ \(done)")
            }
            let rate = Double(done) / seconds
            if tasks == 1 { single = rate }
            report(BenchRow(
                workload: "group commit", configuration: "T=\(tasks), full, 1 KiB", metric: "updates/s", ours: rate,
                baseline: single, baselineName: "T=1", target: tasks == 8 ? "≥ 5×" : nil,
                met: tasks == 8 ? rate >= 5 * single! : nil,
                note: "\(final.version) commits for \(done) updates"))
        }
    }
}
