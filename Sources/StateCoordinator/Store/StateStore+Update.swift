import Synchronization

extension StateStore {
    /// Applies `mutation` to the current state and commits the result as the next version.
    ///
    /// Concurrent calls from tasks of this process are committed in call order, as many as are
    /// waiting at once under one lock hold and one fsync; each caller gets the snapshot of the
    /// commit that includes its mutation. A mutation that throws commits nothing and its error is
    /// rethrown; the other mutations of the batch are unaffected. The mutation runs on the store's
    /// commit thread with the writer lock held: keep it short, and pure, as it may be applied
    /// again if its batch has to be split.
    ///
    /// - Returns: the committed snapshot and the mutation's result.
    /// - Throws: the mutation's error, or a ``StateStoreError`` (`lockTimeout`, `corrupt`, `noSpace`, …).
    @discardableResult
    public func update<T: Sendable>(
        _ mutation: @escaping @Sendable (inout State) throws -> T
    ) async throws -> (snapshot: StateSnapshot<State>, result: T) {
        try await submit(expecting: nil, mutation)
    }

    /// Compare-and-swap: like ``update(_:)``, but commits only if the store is at `version`.
    /// - Throws: ``StateStoreError/Code/conflict`` with ``StateStoreError/currentVersion`` otherwise.
    @discardableResult
    public func update<T: Sendable>(
        expecting version: UInt64, _ mutation: @escaping @Sendable (inout State) throws -> T
    ) async throws -> (snapshot: StateSnapshot<State>, result: T) {
        try await submit(expecting: version, mutation)
    }

    /// Replaces the whole state, optionally only if the store is at `version`.
    @discardableResult
    public func replace(with state: State, expecting version: UInt64? = nil) async throws -> StateSnapshot<State> {
        try await submit(expecting: version) { $0 = state }.snapshot
    }

    /// The blocking form of ``update(_:)``, for scripts and threads you own: never call it from
    /// async code, where it would block a thread of the cooperative pool.
    @discardableResult
    public func updateBlocking<T: Sendable>(
        expecting version: UInt64? = nil, _ mutation: @escaping @Sendable (inout State) throws -> T
    ) throws -> (snapshot: StateSnapshot<State>, result: T) {
        try submitAndWait(expecting: version, mutation)
    }

    /// The blocking form of ``replace(with:expecting:)``.
    @discardableResult
    public func replaceBlocking(with state: State, expecting version: UInt64? = nil) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: version) { $0 = state }.snapshot
    }

    func submit<T: Sendable>(
        expecting version: UInt64?, _ mutation: @escaping @Sendable (inout State) throws -> T
    ) async throws -> (snapshot: StateSnapshot<State>, result: T) {
        try await withCheckedThrowingContinuation { continuation in
            pipeline.submit(
                PendingUpdate(
                    expectedVersion: version,
                    mutation: { state in
                        let result = try mutation(&state)
                        return { snapshot in continuation.resume(returning: (snapshot, result)) }
                    },
                    failure: { continuation.resume(throwing: $0) }))
        }
    }

    func submitAndWait<T: Sendable>(
        expecting version: UInt64?, _ mutation: @escaping @Sendable (inout State) throws -> T
    ) throws -> (snapshot: StateSnapshot<State>, result: T) {
        let outcome = Mutex<Result<(snapshot: StateSnapshot<State>, result: T), any Error>?>(nil)
        try pipeline.submitAndWait(
            PendingUpdate(
                expectedVersion: version,
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
