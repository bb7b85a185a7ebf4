import Synchronization

/// What a ``StateReader`` shares with the sink of its follower: the newest snapshot, the last
/// problem, and the tasks waiting for a condition on the snapshot.
@usableFromInline
final class ReaderShared<State: Codable & Sendable>: Sendable {
    struct Waiter {
        let condition: @Sendable (borrowing StateSnapshot<State>) -> Bool
        let continuation: CheckedContinuation<StateSnapshot<State>, any Error>
    }

    @usableFromInline
    struct Contents {
        @usableFromInline var snapshot: StateSnapshot<State>
        var problem: StateStoreError?
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    @usableFromInline let state: Mutex<Contents>

    init(_ initial: StateSnapshot<State>) { state = Mutex(Contents(snapshot: initial)) }

    /// Stores a new snapshot and wakes the waiters it satisfies. The previous snapshot is freed
    /// after the lock is released, not while a tick loop may be waiting for it.
    func store(_ snapshot: StateSnapshot<State>) {
        let (previous, woken) = state.withLock { contents -> (StateSnapshot<State>, [Waiter]) in
            let previous = contents.snapshot
            contents.snapshot = snapshot
            contents.problem = nil
            var woken: [Waiter] = []
            for (id, waiter) in contents.waiters where waiter.condition(contents.snapshot) {
                woken.append(waiter)
                contents.waiters[id] = nil
            }
            return (previous, woken)
        }
        _ = consume previous
        for waiter in woken { waiter.continuation.resume(returning: snapshot) }
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
        for waiter in waiters { waiter.continuation.resume(throwing: Self.closedError) }
    }

    func wait(until condition: @escaping @Sendable (borrowing StateSnapshot<State>) -> Bool) async throws -> StateSnapshot<State> {
        let id = state.withLock { contents in
            defer { contents.nextWaiter += 1 }
            return contents.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { contents -> Result<StateSnapshot<State>, any Error>? in
                    if condition(contents.snapshot) { return .success(contents.snapshot) }
                    if contents.closed { return .failure(Self.closedError) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    contents.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    static var closedError: StateStoreError {
        StateStoreError(.closed, "The reader was closed while a task waited on it.", hint: "Keep the reader open while you wait on it.")
    }
}
