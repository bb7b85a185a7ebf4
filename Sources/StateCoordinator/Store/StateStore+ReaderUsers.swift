extension StateStore {
    /// Names the users whose registered readers count (``StoreSettings/readerUsers``), as a new
    /// version with the same state; nil counts every user's again. From this version on, readers
    /// of other users are listed as not counted and never waited for.
    ///
    /// - Parameters:
    ///   - uids: the users (any order; duplicates dropped), 1 to ``StoreSettings/largestReaderUsers``; nil for every user.
    ///   - expectedVersion: change it only if the store is at this version (compare-and-swap).
    /// - Throws: ``StateStoreError/Code/invalidArgument`` for an empty or too long list (nothing changes).
    @discardableResult
    public func setReaderUsers(_ uids: [UInt32]?, expecting expectedVersion: UInt64? = nil) async throws -> StateSnapshot<State> {
        try await submit(expecting: expectedVersion, commitUnchanged: false, settingsChange: Self.readerUsersChange(uids)) { _ in }.snapshot
    }

    /// The synchronous form of ``setReaderUsers(_:expecting:)-3omcn``.
    @_disfavoredOverload
    @discardableResult
    public func setReaderUsers(_ uids: [UInt32]?, expecting expectedVersion: UInt64? = nil) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: expectedVersion, commitUnchanged: false, settingsChange: Self.readerUsersChange(uids)) { _ in }.snapshot
    }

    private static func readerUsersChange(_ uids: [UInt32]?) -> PendingUpdate<State>.SettingsChange {
        { (settings, _) throws(StateStoreError) in
            var changed = settings
            changed.readerUsers = uids.map { Array(Set($0)).sorted() }
            try changed.validate()
            settings = changed
        }
    }
}
