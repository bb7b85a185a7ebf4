import Synchronization

/// What a ``StateReader`` shares with the sink of its follower: the newest snapshot, the last
/// problem, and the tasks waiting for a newer snapshot. A waiting task evaluates its condition
/// itself: the storing thread (the watch loop's, often) never runs a user's closure.
@usableFromInline
final class ReaderShared<State: Codable & Sendable>: Sendable {
    typealias Waiter = CheckedContinuation<Void, any Error>

    @usableFromInline
    struct Contents {
        @usableFromInline var snapshot: StateSnapshot<State>
        var problem: StateStoreError?
        /// Counts the snapshots stored: a waiter parks only while it is the one it looked at.
        var generation: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    @usableFromInline let state: Mutex<Contents>

    init(_ initial: StateSnapshot<State>) { state = Mutex(Contents(snapshot: initial)) }

    /// Stores a new snapshot and wakes every waiter, to look at it in its own task. The previous
    /// snapshot is freed after the lock is released, not while a tick loop may be waiting for it.
    func store(_ snapshot: StateSnapshot<State>) {
        let (previous, woken) = state.withLock { contents -> (StateSnapshot<State>, [Waiter]) in
            let previous = contents.snapshot
            contents.snapshot = snapshot
            contents.problem = nil
            contents.generation &+= 1
            defer { contents.waiters.removeAll() }
            return (previous, Array(contents.waiters.values))
        }
        _ = consume previous
        for waiter in woken { waiter.resume() }
    }

    func report(_ problem: StateStoreError) {
        state.withLock { $0.problem = problem }
    }

    /// The current snapshot's file verifies again (a damaged file replaced by a good copy of the
    /// same version): the problem no longer stands.
    func clearProblem() {
        state.withLock { $0.problem = nil }
    }

    func close() {
        let waiters = state.withLock { contents -> [Waiter] in
            contents.closed = true
            defer { contents.waiters = [:] }
            return Array(contents.waiters.values)
        }
        for waiter in waiters { waiter.resume(throwing: Self.closedError) }
    }

    func wait(until condition: @escaping @Sendable (borrowing StateSnapshot<State>) -> Bool) async throws -> StateSnapshot<State> {
        while true {
            let (snapshot, generation, closed) = state.withLock { ($0.snapshot, $0.generation, $0.closed) }
            if condition(snapshot) { return snapshot }
            if closed { throw Self.closedError }
            try await waitForSnapshot(after: generation)
        }
    }

    /// Returns once a snapshot newer than `generation` is stored (at once if one is already).
    private func waitForSnapshot(after generation: UInt64) async throws {
        let id = state.withLock { contents in
            defer { contents.nextWaiter += 1 }
            return contents.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let immediate = state.withLock { contents -> Result<Void, any Error>? in
                    if contents.generation != generation { return .success(()) }
                    if contents.closed { return .failure(Self.closedError) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    contents.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    static var closedError: StateStoreError {
        StateStoreError(.closed, "The reader was closed while a task waited on it.", hint: "Keep the reader open while you wait on it.")
    }
}
