import SystemPackage

/// Where a store is and how this process reaches it: what every operation on the store needs,
/// as a value the commit pipeline can carry without holding the store itself.
struct StoreHandle: Sendable {
    let directory: String
    let files: StoreFiles
    let options: StateStoreOptions
    /// Kept rather than computed: a watcher's every reload uses it.
    let stateFilePath: String
    /// Whether this process may write (a ``StateStore``) or only read (a ``ReadOnlyStateStore``).
    let forWriting: Bool
    /// The writer's figures, when the options name a metrics factory.
    let metrics: WriterMetrics?

    init(directory: String, files: StoreFiles, options: StateStoreOptions, forWriting: Bool) {
        self.directory = directory
        self.files = files
        self.options = options
        self.forWriting = forWriting
        stateFilePath = directory + "/" + files.stateFile
        metrics = forWriting ? WriterMetrics(options, store: files.name) : nil
    }

    var calls: SystemCalls { options.systemCalls }

    /// A handle for an existing store, checked as ``checkExists()`` does; for writing, also on a
    /// local file system (``checkFileSystem(_:)``).
    static func open(directory: String, name: String, options: StateStoreOptions, forWriting: Bool) throws(StateStoreError) -> StoreHandle {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: forWriting)
        if forWriting { try WriterIdentity.validate(label: options.label) }
        try StoreOpening(handle).checkExists()
        if forWriting { try StoreOpening(handle).checkFileSystem(try handle.openDirectory()) }
        return handle
    }

    /// ``open(directory:name:options:forWriting:)`` on a thread of its own, for async openers.
    static func open(
        directory: String, name: String, options: StateStoreOptions, forWriting: Bool
    ) async throws(StateStoreError) -> StoreHandle {
        try await BlockingWorkThread.runOnce("StateCoordinator.open") { () throws(StateStoreError) in
            try open(directory: directory, name: name, options: options, forWriting: forWriting)
        }
    }

    /// Reads, verifies and decodes the current version, lock-free.
    func readSnapshot<State: Decodable & Sendable>(as type: State.Type) throws(StateStoreError) -> StateSnapshot<State> {
        try readCurrent().snapshot(as: State.self, path: stateFilePath)
    }

    func path(_ file: String) -> String { directory + "/" + file }

    /// Opens the store directory; every step of an operation works relative to its descriptor.
    func openDirectory() throws(StateStoreError) -> StoreDirectory {
        try StoreDirectory(opening: directory, files: files, calls: calls)
    }

    /// Reads and verifies the current state file, lock-free.
    func readCurrent(directory dir: FileDescriptor = SystemCalls.currentDirectory) throws(StateStoreError) -> VerifiedStateFile {
        do {
            return try StateFileReader(calls: calls).read(
                directory: dir, name: dir == SystemCalls.currentDirectory ? stateFilePath : files.stateFile, path: stateFilePath)
        } catch where error.code == .unverifiable {
            throw explainingPlainJSON(error)
        }
    }

    /// Reads and verifies the current state file unless `decide` says, from the file opened,
    /// to leave it (nil then).
    /// - Parameter dir: the store directory, open (default: the state file's path is opened).
    func readCurrent(
        directory dir: FileDescriptor = SystemCalls.currentDirectory, deciding decide: (PinnedFile) -> StateFileReader.Decision
    ) throws(StateStoreError) -> VerifiedStateFile? {
        do {
            return try StateFileReader(calls: calls).read(
                directory: dir, name: dir == SystemCalls.currentDirectory ? stateFilePath : files.stateFile, path: stateFilePath,
                deciding: decide)
        } catch where error.code == .unverifiable {
            throw explainingPlainJSON(error)
        }
    }

    /// A state file that is plain JSON is either a bot's own file never imported or a store's
    /// file a foreign writer replaced: what survives beside it tells which.
    private func explainingPlainJSON(_ error: StateStoreError) -> StateStoreError {
        guard let dir = try? openDirectory() else { return error }
        return StoreOpening(self).plainJSONError(dir) ?? error
    }

    /// Who holds the writer lock now, from `/proc/locks`; never waits.
    func lockHolder() throws(StateStoreError) -> LockHolder? {
        let lockPath = path(files.lockFile)
        let status: FileStatus
        do { status = try calls.fstatat(SystemCalls.currentDirectory, lockPath) } catch {
            throw .system(.openLockfile, path: lockPath, errno: error)
        }
        return LockHolder.find(device: status.device, inode: status.inode)
    }

    func history(_ dir: FileDescriptor) -> HistoryDirectory {
        HistoryDirectory(calls: calls, storeDirectory: dir, storeDirectoryPath: directory, files: files)
    }
}
