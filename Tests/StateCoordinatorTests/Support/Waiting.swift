import Foundation

/// Waits in an async test until a condition another thread or process changes holds (a counter,
/// a registration), polling without blocking a thread of the cooperative pool; false on timeout.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// Runs a blocking wait (on a condition, a semaphore) on a thread of its own, never on the
/// cooperative pool, and returns its result.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in Thread.detachNewThread { continuation.resume(returning: body()) } }
}

/// What `body` returns, or nil when it has not returned within `timeout` (it is then cancelled):
/// a wait on an event that never comes fails its test instead of stalling the suite.
func within<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

/// Plants an empty file at `path` last modified an hour ago: a temp file a writer left long
/// enough ago to count as an orphan (``StoreVerifier/minimumOrphanAge``).
func plantOldFile(_ path: String) throws {
    try Data().write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
}
