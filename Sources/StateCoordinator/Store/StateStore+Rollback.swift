extension StateStore {
    /// Commits a kept version's state as a new version, optionally only if the store is at
    /// `expectedVersion`. The kept version is read under the writer lock.
    /// - Throws: `notFound` when that version is not kept.
    @discardableResult
    public func rollback(to version: UInt64, expecting expectedVersion: UInt64? = nil) async throws -> StateSnapshot<State> {
        let handle = handle
        return try await submit(expecting: expectedVersion, commitUnchanged: false) { state in
            state = try handle.snapshot(atVersion: version, as: State.self).state
        }.snapshot
    }

    /// The synchronous form of ``rollback(to:expecting:)``.
    @_disfavoredOverload
    @discardableResult
    public func rollback(to version: UInt64, expecting expectedVersion: UInt64? = nil) throws -> StateSnapshot<State> {
        let handle = handle
        return try submitAndWait(expecting: expectedVersion, commitUnchanged: false) { state in
            state = try handle.snapshot(atVersion: version, as: State.self).state
        }.snapshot
    }
}
