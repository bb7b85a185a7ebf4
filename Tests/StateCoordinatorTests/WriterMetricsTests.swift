import Foundation
import MetricsTestKit
import Testing

@testable import StateCoordinator

/// A writer's figures reach the metrics factory its options name, and only that one.
@Suite("Writer metrics through swift-metrics")
struct WriterMetricsTests {
    let dir = TemporaryDirectory()

    @Test func commitsRecordTheirDurationsBatchSizesConflictsAndLockTimeouts() async throws {
        let metrics = TestMetrics()
        var options = StateStoreOptions(lockTimeout: .milliseconds(200))
        options.metricsFactory = metrics
        _ = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 0])
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        for _ in 0..<3 { try await store.update { $0 = ["n": .int(($0["n"]?.intValue ?? 0) + 1)] } }
        let store1 = [("store", "state")]
        // Recorded when the lock hold ends, just after the caller was answered.
        #expect(await eventually { (try? metrics.expectTimer("statecoord_commit_duration_seconds", store1).values.count) == 3 })
        #expect(try metrics.expectTimer("statecoord_lock_wait_seconds", store1).values.count == 3)
        #expect(try metrics.expectTimer("statecoord_fsync_duration_seconds", store1 + [("target", "file")]).values.count == 3)
        #expect(try metrics.expectTimer("statecoord_fsync_duration_seconds", store1 + [("target", "directory")]).values.count == 3)
        #expect(try metrics.expectRecorder("statecoord_batch_updates", store1).values == [1, 1, 1])
        await #expect(throws: StateStoreError.self) { try await store.update(expecting: 0) { $0 = [:] } }
        #expect(try metrics.expectCounter("statecoord_conflicts_total", store1).totalValue == 1)
        // A lock held by flock(1) past the timeout.
        let holder = try RunningHelper(["-c", "flock \(dir.file("state.lock")) sleep 30"], executable: URL(fileURLWithPath: "/bin/sh"))
        defer { holder.signal(SIGKILL) }
        #expect(await eventually { (try? store.lockHolder()) != nil })
        await #expect(throws: StateStoreError.self) { try await store.update { $0 = [:] } }
        #expect(try metrics.expectCounter("statecoord_lock_timeouts_total", store1).totalValue == 1)
    }

    @Test func withoutAFactoryNothingIsRecordedAndReadersNeverRecord() throws {
        #expect(StoreHandle(directory: dir.path, files: try StoreFiles(name: "state"), options: StateStoreOptions(), forWriting: true).metrics == nil)
        var options = StateStoreOptions()
        options.metricsFactory = TestMetrics()
        #expect(StoreHandle(directory: dir.path, files: try StoreFiles(name: "state"), options: options, forWriting: false).metrics == nil)
    }
}
