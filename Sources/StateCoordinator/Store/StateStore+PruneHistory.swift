extension StateStore {
    /// Removes the kept versions that fail verification, under the writer lock, and returns them.
    ///
    /// A power loss under durability `none` can leave history entries empty or cut short: they
    /// are damage to the history only (the current state and the other entries are judged on
    /// their own), and ``ReadableStateStore/historyListing()-617pa`` and `verify` name them. An entry
    /// that cannot be read for another reason (a permission, an I/O error) is left alone.
    ///
    /// - Throws: `lockTimeout`, and the errors of listing and unlinking.
    @discardableResult
    public func pruneDamagedHistory() async throws(StateStoreError) -> [DamagedHistoryEntry] {
        try await offPool("pruning damaged history") { (handle) throws(StateStoreError) in try handle.pruneDamagedHistory() }
    }

    /// The synchronous form of ``pruneDamagedHistory()``.
    @_disfavoredOverload
    @discardableResult
    public func pruneDamagedHistory() throws(StateStoreError) -> [DamagedHistoryEntry] {
        try filesHandle(for: "pruning damaged history").pruneDamagedHistory()
    }
}

extension StoreHandle {
    func pruneDamagedHistory() throws(StateStoreError) -> [DamagedHistoryEntry] {
        let dir = try openDirectory()
        let lock = try dir.lockWriters(timeout: options.lockTimeout)
        let removed = try history(dir.descriptor).pruneDamaged(synchronize: options.durability != .none)
        lock.release()
        return removed
    }
}
