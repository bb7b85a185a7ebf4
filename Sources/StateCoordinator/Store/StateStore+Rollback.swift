extension StateStore {
    /// Commits a kept version's state as a new version, optionally only if the store is at
    /// `expectedVersion`. The kept version is read under the writer lock (on etcd: in the
    /// commit, whose transaction holds only if nobody committed since).
    /// - Throws: `notFound` when that version is not kept.
    @discardableResult
    public func rollback(to version: UInt64, expecting expectedVersion: UInt64? = nil) async throws -> StateSnapshot<State> {
        let backend = backend
        return try await submit(expecting: expectedVersion, commitUnchanged: false) { state in
            state = try backend.readKept(version: version).state
        }.snapshot
    }

    /// The synchronous form of ``rollback(to:expecting:)``.
    @_disfavoredOverload
    @discardableResult
    public func rollback(to version: UInt64, expecting expectedVersion: UInt64? = nil) throws -> StateSnapshot<State> {
        let backend = backend
        return try submitAndWait(expecting: expectedVersion, commitUnchanged: false) { state in
            state = try backend.readKept(version: version).state
        }.snapshot
    }
}
