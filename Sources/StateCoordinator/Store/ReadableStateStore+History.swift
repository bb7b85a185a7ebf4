extension ReadableStateStore {
    /// The kept past versions that verify, newest first (empty when history is off). Lock-free.
    /// A damaged entry is left out: ``historyListing()-617pa`` and ``verify()-7fic0`` name it.
    ///
    /// - Throws: when the history directory cannot be listed.
    public func history() async throws(StateStoreError) -> [HistoryEntry] {
        try await historyListing().entries
    }

    /// The synchronous form of ``history()``.
    @_disfavoredOverload
    public func history() throws(StateStoreError) -> [HistoryEntry] {
        try historyListing().entries
    }

    /// The kept past versions, newest first: those that verify, and the damaged ones with why.
    /// Lock-free.
    ///
    /// - Throws: when the history directory cannot be listed.
    public func historyListing() async throws(StateStoreError) -> HistoryListing {
        let backend = backend
        return try await io.run { () throws(StateStoreError) in try backend.historyListing() }
    }

    /// The synchronous form of ``historyListing()``.
    @_disfavoredOverload
    public func historyListing() throws(StateStoreError) -> HistoryListing {
        try backend.historyListing()
    }

    /// A version of the state: the current one, or a kept past one.
    /// - Throws: `notFound` when that version is neither current nor kept.
    public func snapshot(atVersion version: UInt64) async throws(StateStoreError) -> StateSnapshot<State> {
        let backend = backend
        return try await io.run { () throws(StateStoreError) in try backend.readKept(version: version) }
    }

    /// The synchronous form of ``snapshot(atVersion:)``.
    @_disfavoredOverload
    public func snapshot(atVersion version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        try backend.readKept(version: version)
    }
}

extension StoreHandle {
    func historyListing() throws(StateStoreError) -> HistoryListing {
        let dir = try openDirectory()
        let history = history(dir.descriptor)
        let current = try? readCurrent(directory: dir.descriptor).header.version
        var listing = HistoryListing(entries: [], damaged: [])
        for version in try history.versions().reversed() where current.map({ version < $0 }) ?? true {
            do { listing.entries.append(HistoryEntry(header: try history.read(version: version).header)) } catch where error.code == .notFound {
                continue  // pruned by a writer while we listed
            } catch where error.code == .corrupt || error.code == .unverifiable {
                let path = history.path + "/" + StoreFiles.historyFile(version: version)
                listing.damaged.append(DamagedHistoryEntry(version: version, path: path, reason: error.message))
            }
        }
        return listing
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
