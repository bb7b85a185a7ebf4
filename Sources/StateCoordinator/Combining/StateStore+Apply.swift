import Synchronization

extension StateStore where State == JSONValue {
    /// Commits a declarative mutation: what ``update(expecting:commitUnchanged:_:)-6q4u2`` does
    /// with a closure, and more under contention. While another process holds the writer lock,
    /// the mutation is published in the store's queue and that holder commits it with its own:
    /// one write and one fsync for every waiting process (see <doc:OnDiskProtocol>, "Combining").
    /// The call returns when the mutation is committed, by this process or by another, whichever
    /// comes first; it is committed exactly once.
    ///
    /// - A mutation that fails (a missing member for ``StateMutation/delete(_:)``, a failed JSON
    ///   Patch `test`, a value that is not a number) throws ``StateMutationError`` and commits
    ///   nothing; one that changes nothing returns the current version, as `update` does.
    /// - The returned snapshot is that of the version that includes the mutation (its state
    ///   holds the other mutations committed with it too). In the rare case that the holder that
    ///   took it died after committing it and before answering, it is a later version, which
    ///   includes it.
    /// - Published, it can no longer be cancelled: it is answered once its holder is done.
    ///
    /// - Parameters:
    ///   - mutation: the change.
    ///   - version: compare-and-swap: commit only if the store is at this version.
    /// - Throws: ``StateMutationError``; a ``StateStoreError`` as `update` throws them (a
    ///   holder's refusal of the state, such as a schema violation, comes with the same code); one
    ///   with outcome ``CommitOutcome/unknown`` when the holder that took it died and the versions
    ///   that could tell were replaced by writers that do not combine.
    @discardableResult
    public func apply(_ mutation: StateMutation, expecting version: UInt64? = nil) async throws -> StateSnapshot<JSONValue> {
        try await submitting { continuation in
            PendingUpdate<JSONValue>(
                expectedVersion: version, declarative: mutation,
                remote: { continuation.resume(returning: $0) },
                mutation: { state in
                    try mutation.apply(to: &state)
                    return { continuation.resume(returning: $0) }
                },
                failure: { continuation.resume(throwing: $0) })
        }
    }

    /// The synchronous form of `apply(_:expecting:)`, for scripts and threads you own.
    @_disfavoredOverload
    @discardableResult
    public func apply(_ mutation: StateMutation, expecting version: UInt64? = nil) throws -> StateSnapshot<JSONValue> {
        let outcome = Mutex<Result<StateSnapshot<JSONValue>, any Error>?>(nil)
        try pipeline.submitAndWait(
            PendingUpdate<JSONValue>(
                expectedVersion: version, declarative: mutation,
                remote: { snapshot in outcome.withLock { $0 = .success(snapshot) } },
                mutation: { state in
                    try mutation.apply(to: &state)
                    return { snapshot in outcome.withLock { $0 = .success(snapshot) } }
                },
                failure: { error in outcome.withLock { $0 = .failure(error) } }))
        guard let result = outcome.withLock({ $0 }) else {
            preconditionFailure("commit pipeline returned without answering an update")
        }
        return try result.get()
    }
}
