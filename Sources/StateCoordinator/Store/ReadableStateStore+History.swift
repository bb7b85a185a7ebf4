extension ReadableStateStore {
    /// The kept past versions, newest first (empty when history is off). Lock-free.
    ///
    /// - Throws: `corrupt` when a kept version fails verification.
    public func history() async throws(StateStoreError) -> [HistoryEntry] {
        try await offPool { (handle) throws(StateStoreError) in try handle.historyEntries() }
    }

    /// The synchronous form of ``history()``.
    @_disfavoredOverload
    public func history() throws(StateStoreError) -> [HistoryEntry] {
        try handle.historyEntries()
    }

    /// A version of the state: the current one, or a kept past one.
    /// - Throws: `notFound` when that version is neither current nor kept.
    public func snapshot(atVersion version: UInt64) async throws(StateStoreError) -> StateSnapshot<State> {
        try await offPool { (handle) throws(StateStoreError) in try handle.snapshot(atVersion: version, as: State.self) }
    }

    /// The synchronous form of ``snapshot(atVersion:)``.
    @_disfavoredOverload
    public func snapshot(atVersion version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        try handle.snapshot(atVersion: version, as: State.self)
    }
}

extension StoreHandle {
    func historyEntries() throws(StateStoreError) -> [HistoryEntry] {
        let dir = try openDirectory()
        let history = history(dir.descriptor)
        let current = try? readCurrent(directory: dir.descriptor).header.version
        var entries: [HistoryEntry] = []
        for version in try history.versions().reversed() where current.map({ version < $0 }) ?? true {
            do { entries.append(HistoryEntry(header: try history.read(version: version).header)) } catch where error.code == .notFound {
                continue  // pruned by a writer while we listed
            }
        }
        return entries
    }

    func snapshot<State: Decodable & Sendable>(atVersion version: UInt64, as type: State.Type) throws(StateStoreError) -> StateSnapshot<State> {
        let dir = try openDirectory()
        let current = try readCurrent(directory: dir.descriptor)
        if current.header.version == version {
            return try current.snapshot(as: State.self, path: stateFilePath)
        }
        let history = history(dir.descriptor)
        return try history.read(version: version).snapshot(as: State.self, path: history.path, fromHistory: true)
    }
}
