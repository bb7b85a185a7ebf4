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
        try handle.checkExists()
        if forWriting { try handle.checkFileSystem(try handle.openDirectory()) }
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

    /// Opens the store directory; every step of a commit works relative to this descriptor.
    func openDirectory() throws(StateStoreError) -> OwnedDescriptor {
        do {
            return OwnedDescriptor(
                try calls.open(SystemCalls.currentDirectory, directory, .directory), calls: calls)
        } catch {
            throw .system(.openDirectory, path: directory, errno: error)
        }
    }

    /// Throws unless both the lockfile and the state file exist: `notFound` when neither does;
    /// `unverifiable`, with the exact import command, when the state file is a plain JSON file
    /// (the original bot's, written with `os.replace()`); `notFound` naming the missing lockfile
    /// when only that is missing and the store is opened for writing (readers never lock).
    /// Touches nothing.
    func checkExists() throws(StateStoreError) {
        let dir = try openDirectory()
        let hasState = try exists(files.stateFile, in: dir)
        guard hasState else { throw noStore }
        if let plain = plainJSONError(dir) { throw plain }
        if !forWriting { return }
        guard try exists(files.lockFile, in: dir) else {
            let lockPath = path(files.lockFile)
            throw StateStoreError(
                .notFound,
                "The store \"\(files.name)\" in \(directory) has its state file but no lockfile: \(lockPath) does not exist, so writers cannot serialize.",
                hint: "If no writer is running, create it empty, owned by the state file's owner, for the writers alone: install -m 600 /dev/null \(lockPath.shellQuoted) (660 for a writers' group); nothing was changed.",
                path: lockPath)
        }
    }

    private func exists(_ file: String, in dir: OwnedDescriptor) throws(StateStoreError) -> Bool {
        do {
            _ = try calls.fstatat(dir.descriptor, file)
            return true
        } catch .noSuchFileOrDirectory {
            return false
        } catch {
            throw .system(.openDirectory, path: path(file), errno: error)
        }
    }

    /// The error for a state file that is plain JSON rather than a store's, with the commands
    /// that import it; nil for anything else (a store's file, damaged or not, is judged by the
    /// operation that reads it). Reads only the header's worth of a store's file.
    func plainJSONError(_ dir: OwnedDescriptor) -> StateStoreError? {
        guard let fd = try? calls.open(dir.descriptor, files.stateFile, .readExisting) else {
            return nil
        }
        let file = OwnedDescriptor(fd, calls: calls)
        guard let start = try? calls.read(file.descriptor, upTo: StateFileHeader.maximumLength + 1) else { return nil }
        if let newline = start.firstIndex(of: UInt8(ascii: "\n")), StateFileCodec.claimedHeader(start[..<newline]) != nil {
            return nil
        }
        let limit = StoreSettings.largestMaximumStateBytes
        guard let rest = try? calls.read(file.descriptor, upTo: limit), start.count + rest.count <= limit,
            StateFileCodec.isPlainJSON(start + rest)
        else { return nil }
        if let surviving = SurvivingStore.survey(self, dir) { return surviving.overwriteError(self) }
        return StateStoreError(
            .unverifiable,
            "\(stateFilePath) is a plain JSON file, not a StateCoordinator store, so it cannot be verified; nothing was touched.",
            hint: "Import it where it lies: statectl --dir \(directory.shellQuoted) --name \(files.name) init --from \(stateFilePath.shellQuoted) (it becomes the store \"\(files.name)\", its content kept as \(files.name).plain.json; library: StateStore.importPlainJSON(from: \"\(stateFilePath)\", directory: \"\(directory)\", name: \"\(files.name)\")).",
            path: stateFilePath)
    }

    /// The kind of file system the store directory is on (`fstatfs`).
    func fileSystemKind(_ dir: OwnedDescriptor) throws(StateStoreError) -> FileSystemKind {
        do { return FileSystemKind(magic: try calls.fstatfs(dir.descriptor)) } catch {
            throw .system(.checkFileSystem, path: directory, errno: error)
        }
    }

    /// Refuses network file systems for writing unless the caller opted in.
    func checkFileSystem(_ dir: OwnedDescriptor) throws(StateStoreError) {
        guard let network = try fileSystemKind(dir).networkName, !options.allowNetworkFileSystem else { return }
        throw StateStoreError(
            .networkFileSystem,
            "\(directory) is on \(network), where flock(2) may be emulated or a no-op and other hosts' writes are not notified: writers could lose updates.",
            hint: "Keep the store on a local file system; if every writer runs on this one host, opt in with allowNetworkFileSystem (statectl --allow-network-fs).",
            step: .checkFileSystem, path: directory)
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
    func readCurrent(deciding decide: (PinnedFile) -> StateFileReader.Decision) throws(StateStoreError) -> VerifiedStateFile? {
        do {
            return try StateFileReader(calls: calls).read(
                directory: SystemCalls.currentDirectory, name: stateFilePath, path: stateFilePath, deciding: decide)
        } catch where error.code == .unverifiable {
            throw explainingPlainJSON(error)
        }
    }

    /// A state file that is plain JSON is either a bot's own file never imported or a store's
    /// file a foreign writer replaced: what survives beside it tells which.
    private func explainingPlainJSON(_ error: StateStoreError) -> StateStoreError {
        guard let dir = try? openDirectory() else { return error }
        return plainJSONError(dir) ?? error
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

    /// The error for a directory without this store's state file; it names the stores that are
    /// there (a typo in the name, or a store created under its file's name).
    var noStore: StateStoreError {
        let others = (try? openDirectory()).map { StoreDirectoryListing(calls: calls, directory: $0.descriptor).storeNames() } ?? []
        let found = others.isEmpty ? "" : "; found: " + others.joined(separator: ", ")
        let hint =
            others.isEmpty
            ? "Create it first (StateStore.create or openOrCreate, or statectl init)."
            : "Name one of those (statectl --name NAME, or STATECTL_NAME), or create this one (statectl init)."
        return StateStoreError(
            .notFound, "No store named \"\(files.name)\" in \(directory): \(stateFilePath) does not exist\(found).",
            hint: hint, path: stateFilePath)
    }

    func history(_ dir: FileDescriptor) -> HistoryDirectory {
        HistoryDirectory(calls: calls, storeDirectory: dir, storeDirectoryPath: directory, files: files)
    }
}
