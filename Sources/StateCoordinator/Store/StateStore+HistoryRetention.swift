extension StateStore {
    /// Changes how much history the store keeps, as a new version with the same state: from the
    /// next commit on, a past version stays while either rule keeps it (the newest `count`, and
    /// every one committed within `age`). Retention that is shorter than before prunes at the next
    /// commit; history that was off starts with the version after this one; history turned off is
    /// set aside as `NAME.history.replaced-STAMP` (kept, no longer part of the store).
    ///
    /// - Parameters:
    ///   - count: past versions to keep (0: none by count).
    ///   - age: also keep every version committed within this time (whole seconds); nil keeps by count only.
    ///   - expectedVersion: change it only if the store is at this version (compare-and-swap).
    /// - Throws: ``StateStoreError/Code/invalidArgument`` for a count or age out of range (nothing changes).
    @discardableResult
    public func setHistoryRetention(
        keeping count: Int, for age: Duration? = nil, expecting expectedVersion: UInt64? = nil
    ) async throws -> StateSnapshot<State> {
        try await submit(expecting: expectedVersion, commitUnchanged: false, settingsChange: retentionChange(count, age)) { _ in }.snapshot
    }

    /// The synchronous form of ``setHistoryRetention(keeping:for:expecting:)``.
    @_disfavoredOverload
    @discardableResult
    public func setHistoryRetention(
        keeping count: Int, for age: Duration? = nil, expecting expectedVersion: UInt64? = nil
    ) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: expectedVersion, commitUnchanged: false, settingsChange: retentionChange(count, age)) { _ in }.snapshot
    }

    private func retentionChange(_ count: Int, _ age: Duration?) -> PendingUpdate<State>.SettingsChange {
        let handle = fileHandle
        return { (settings, target) throws(StateStoreError) in
            var changed = settings
            changed.keepHistory = count
            changed.keepHistoryFor = StoreSettings(keepHistoryFor: age).keepHistoryFor
            try changed.validate()
            if settings.keepsHistory, !changed.keepsHistory {
                // Turned off: the kept versions leave the store (set aside, not deleted), so that
                // none is later taken for the newest version a recovery numbers from.
                // On etcd the commit's transaction deletes them (``EtcdHistoryRetention``).
                if case .directory(let directory) = target, let handle {
                    _ = try handle.history(directory).moveAside(timestamp: StoreCreation.asideStamp())
                }
            }
            settings = changed
        }
    }
}
