import Synchronization

extension StateStore {
    /// Applies `mutation` to the current state and commits the result as the next version.
    ///
    /// Concurrent calls from tasks of this process are committed in call order, as many as are
    /// waiting at once under one lock hold and one fsync; each caller gets the snapshot of the
    /// commit that includes its mutation. The mutation runs on the store's commit thread with the
    /// writer lock held, on the newest committed state: re-check there what your update depends
    /// on (a halt flag), and throw to commit nothing (see <doc:SafeUpdates>).
    ///
    /// - A mutation that **throws** commits nothing and its error is rethrown; the other
    ///   mutations of the batch are unaffected.
    /// - A mutation that **changes nothing** (the state encodes to the bytes already committed)
    ///   commits nothing: no new version, no fsync, no watcher woken; the current snapshot is
    ///   returned. Pass `commitUnchanged: true` to commit a new version anyway. Objects are
    ///   written with sorted keys, so this holds for `JSONValue` and for types whose encoding
    ///   depends only on their value; a `Set` (whose order varies between processes) may encode
    ///   differently each time, and then commits.
    /// - A mutation must be **pure**: it may run more than once (its batch may be split or
    ///   retried), so capture the values it needs and act on the result after `update` returns
    ///   (send the order then, not from inside).
    /// - **Cancelled** before its mutation ran (waiting for the lock, or behind other updates),
    ///   the update throws `CancellationError` and commits nothing. Once its mutation ran, it
    ///   completes: cancellation never leaves you unsure whether it committed.
    ///
    /// - Parameters:
    ///   - version: compare-and-swap: commit only if the store is at this version.
    ///   - commitUnchanged: commit a new version even if the mutation changes nothing.
    ///   - mutation: changes the state in place.
    /// - Returns: the committed snapshot (the current one if nothing changed).
    /// - Throws: the mutation's error; `CancellationError`; a ``StateStoreError``: `conflict`
    ///   (with ``StateStoreError/currentVersion``) when `version` is not current, `lockTimeout`,
    ///   `corrupt`, `noSpace`, ….
    @discardableResult
    public func update(
        expecting version: UInt64? = nil, commitUnchanged: Bool = false,
        _ mutation: @escaping @Sendable (inout State) throws -> Void
    ) async throws -> StateSnapshot<State> {
        try await submit(expecting: version, commitUnchanged: commitUnchanged, mutation).snapshot
    }

    /// The synchronous form of ``update(expecting:commitUnchanged:_:)``, for scripts and threads
    /// you own: it blocks the calling thread until the update is answered.
    @_disfavoredOverload
    @discardableResult
    public func update(
        expecting version: UInt64? = nil, commitUnchanged: Bool = false,
        _ mutation: @escaping @Sendable (inout State) throws -> Void
    ) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: version, commitUnchanged: commitUnchanged, mutation).snapshot
    }

    /// ``update(expecting:commitUnchanged:_:)-6q4u2`` for a mutation that also computes a value (the
    /// order id it allotted, the new position): the value comes back with the snapshot.
    public func updateWithResult<Value: Sendable>(
        expecting version: UInt64? = nil, commitUnchanged: Bool = false,
        _ mutation: @escaping @Sendable (inout State) throws -> Value
    ) async throws -> UpdateResult<State, Value> {
        let (snapshot, value) = try await submit(expecting: version, commitUnchanged: commitUnchanged, mutation)
        return UpdateResult(snapshot: snapshot, value: value)
    }

    /// The synchronous form of ``updateWithResult(expecting:commitUnchanged:_:)``.
    @_disfavoredOverload
    public func updateWithResult<Value: Sendable>(
        expecting version: UInt64? = nil, commitUnchanged: Bool = false,
        _ mutation: @escaping @Sendable (inout State) throws -> Value
    ) throws -> UpdateResult<State, Value> {
        let (snapshot, value) = try submitAndWait(expecting: version, commitUnchanged: commitUnchanged, mutation)
        return UpdateResult(snapshot: snapshot, value: value)
    }

    /// Replaces the whole state, optionally only if the store is at `version`. Replacing it with
    /// an equal state commits nothing.
    @discardableResult
    public func replace(with state: State, expecting version: UInt64? = nil) async throws -> StateSnapshot<State> {
        try await submit(expecting: version, commitUnchanged: false) { $0 = state }.snapshot
    }

    /// The synchronous form of ``replace(with:expecting:)``.
    @_disfavoredOverload
    @discardableResult
    public func replace(with state: State, expecting version: UInt64? = nil) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: version, commitUnchanged: false) { $0 = state }.snapshot
    }

    func submit<T: Sendable>(
        expecting version: UInt64?, commitUnchanged: Bool, settingsChange: PendingUpdate<State>.SettingsChange? = nil,
        mirroredVersion: UInt64? = nil, _ mutation: @escaping @Sendable (inout State) throws -> T
    ) async throws -> (snapshot: StateSnapshot<State>, result: T) {
        try await submitting { continuation in
            PendingUpdate<State>(
                expectedVersion: version, commitsUnchanged: commitUnchanged, settingsChange: settingsChange,
                mirroredVersion: mirroredVersion, mutation: { state in
                    let result = try mutation(&state)
                    return { snapshot in continuation.resume(returning: (snapshot, result)) }
                },
                failure: { continuation.resume(throwing: $0) })
        }
    }

    /// Submits the update `make` builds around the continuation it answers, and waits for the
    /// answer; a cancellation of the task cancels the update (see ``PendingUpdate/cancel()``).
    func submitting<T: Sendable>(
        _ make: (CheckedContinuation<T, any Error>) -> PendingUpdate<State>
    ) async throws -> T {
        try Task.checkCancellation()
        let submitted = SubmittedUpdate<State>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let update = make(continuation)
                submitted.update = update
                pipeline.submit(update)
                // A cancellation that came before `update` was recorded is acted on here.
                if Task.isCancelled { update.cancel() }
            }
        } onCancel: {
            submitted.update?.cancel()
        }
    }

    func submitAndWait<T: Sendable>(
        expecting version: UInt64?, commitUnchanged: Bool, settingsChange: PendingUpdate<State>.SettingsChange? = nil,
        _ mutation: @escaping @Sendable (inout State) throws -> T
    ) throws -> (snapshot: StateSnapshot<State>, result: T) {
        let outcome = Mutex<Result<(snapshot: StateSnapshot<State>, result: T), any Error>?>(nil)
        try pipeline.submitAndWait(
            PendingUpdate(
                expectedVersion: version, commitsUnchanged: commitUnchanged, settingsChange: settingsChange,
                mutation: { state in
                    let result = try mutation(&state)
                    return { snapshot in outcome.withLock { $0 = .success((snapshot, result)) } }
                },
                failure: { error in outcome.withLock { $0 = .failure(error) } }))
        // The pipeline answers every update before its drain returns.
        guard let result = outcome.withLock({ $0 }) else {
            preconditionFailure("commit pipeline returned without answering an update")
        }
        return try result.get()
    }
}

/// What ``StateStore/updateWithResult(expecting:commitUnchanged:_:)-8ks20`` returns.
public struct UpdateResult<State: Sendable, Value: Sendable>: Sendable {
    /// The committed snapshot (the current one if the mutation changed nothing).
    public var snapshot: StateSnapshot<State>
    /// What the mutation returned.
    public var value: Value

    /// A result, for instance a fake one in your own tests.
    public init(snapshot: StateSnapshot<State>, value: Value) {
        self.snapshot = snapshot
        self.value = value
    }
}

/// The update a task submitted, for its cancellation handler.
final class SubmittedUpdate<State: Sendable>: Sendable {
    private let slot = Mutex<PendingUpdate<State>?>(nil)

    var update: PendingUpdate<State>? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}
