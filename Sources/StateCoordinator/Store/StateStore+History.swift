extension StateStore {
    /// The kept past versions, newest first (empty when history is off). Lock-free.
    ///
    /// - Throws: `corrupt` when a kept version fails verification.
    public func history() throws(StateStoreError) -> [HistoryEntry] {
        let dir = try handle.openDirectory()
        let history = handle.history(dir.rawValue)
        let current = try? handle.readCurrent(directory: dir.rawValue).header.version
        var entries: [HistoryEntry] = []
        for version in try history.versions().reversed() where current.map({ version < $0 }) ?? true {
            let header: StateFileHeader
            do { header = try history.read(version: version).header } catch where error.code == .notFound {
                continue  // pruned by a writer while we listed
            }
            entries.append(
                HistoryEntry(
                    version: header.version, committedAt: CommitTimestamp.parse(header.committedAt) ?? .distantPast,
                    writer: header.writer))
        }
        return entries
    }

    /// A version of the state: the current one, or a kept past one.
    /// - Throws: `notFound` when that version is neither current nor kept.
    public func snapshot(atVersion version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        let dir = try handle.openDirectory()
        let current = try handle.readCurrent(directory: dir.rawValue)
        if current.header.version == version {
            return try current.snapshot(as: State.self, path: stateFilePath)
        }
        let history = handle.history(dir.rawValue)
        return try history.read(version: version).snapshot(as: State.self, path: history.path)
    }

    /// Commits a kept version's state as a new version, optionally only if the store is at
    /// `expectedVersion`. The kept version is read under the writer lock.
    /// - Throws: `notFound` when that version is not kept.
    @discardableResult
    public func rollback(to version: UInt64, expecting expectedVersion: UInt64? = nil) async throws -> StateSnapshot<State> {
        let handle = handle
        return try await submit(expecting: expectedVersion) { state in
            state = try Self.keptState(version, handle: handle)
        }.snapshot
    }

    /// The blocking form of ``rollback(to:expecting:)``.
    @discardableResult
    public func rollbackBlocking(to version: UInt64, expecting expectedVersion: UInt64? = nil) throws -> StateSnapshot<State> {
        let handle = handle
        return try submitAndWait(expecting: expectedVersion) { state in
            state = try Self.keptState(version, handle: handle)
        }.snapshot
    }

    private static func keptState(_ version: UInt64, handle: StoreHandle) throws(StateStoreError) -> State {
        let dir = try handle.openDirectory()
        let history = handle.history(dir.rawValue)
        return try history.read(version: version).snapshot(as: State.self, path: history.path).state
    }
}
