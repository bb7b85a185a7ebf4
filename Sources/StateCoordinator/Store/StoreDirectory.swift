import SystemPackage

/// A store's directory, open: the descriptor every step of an operation works relative to (so
/// that every step names the same directory, even if its path is replaced meanwhile), its path for
/// messages, the store's file names and the system calls. ``StoreHandle/openDirectory()`` makes one
/// per operation; it closes its descriptor when dropped.
struct StoreDirectory {
    private let owned: OwnedDescriptor
    /// The directory's descriptor.
    var descriptor: FileDescriptor { owned.descriptor }
    /// The directory's path, for messages.
    let path: String
    let files: StoreFiles
    let calls: SystemCalls

    /// Opens the directory at `path` (`O_DIRECTORY`, links in the path followed: it is the
    /// directory a user named, which may be a link to the real one).
    init(opening path: String, files: StoreFiles, calls: SystemCalls) throws(StateStoreError) {
        do { owned = OwnedDescriptor(try calls.open(SystemCalls.currentDirectory, path, .directory), calls: calls) } catch {
            throw .system(.openDirectory, path: path, errno: error)
        }
        self.path = path
        self.files = files
        self.calls = calls
    }

    /// The path of a file in the directory, for messages.
    func path(_ name: String) -> String { path + "/" + name }

    /// The state file's path, for messages.
    var stateFilePath: String { path(files.stateFile) }

    /// The status of the file `name` in the directory (`fstatat`, no link followed).
    func status(of name: String) throws(Errno) -> FileStatus { try calls.fstatat(descriptor, name) }

    /// The directory as the place a ``PendingFile`` is made in.
    var pendingFileTarget: PendingFile.TargetDirectory { PendingFile.TargetDirectory(calls: calls, descriptor: descriptor, path: path) }

    /// The temp files writers left in the directory.
    var orphanSweeper: OrphanSweeper { OrphanSweeper(calls: calls, directory: descriptor, directoryPath: path, files: files) }

    /// The store's history directory.
    var history: HistoryDirectory { HistoryDirectory(calls: calls, storeDirectory: descriptor, storeDirectoryPath: path, files: files) }

    /// Takes the writer lock on the store's lockfile, waiting up to `timeout`: the one way writers
    /// exclude each other (``WriterLock``).
    func lockWriters(timeout: Duration) throws(StateStoreError) -> WriterLock {
        try WriterLock.acquire(calls: calls, directory: descriptor, lockFile: files.lockFile, path: path(files.lockFile), timeout: timeout)
    }

    /// The writer lock, or nil: without `waiting` when another holds it, with an `interruption`
    /// when that ended the wait (see ``WriterLock/acquire(calls:directory:lockFile:path:timeout:waiting:interruption:)``).
    func lockWriters(
        timeout: Duration, waiting: Bool, interruption: LockWaitInterruption?, until deadline: ContinuousClock.Instant? = nil
    ) throws(StateStoreError) -> WriterLock? {
        try WriterLock.acquire(
            calls: calls, directory: descriptor, lockFile: files.lockFile, path: path(files.lockFile), timeout: timeout, waiting: waiting,
            interruption: interruption, until: deadline)
    }

    /// The queue of mutations waiting writers publish (see ``MutationQueue``), for a state file of
    /// mode `storeMode`; nil when the store has none and `creating` is false.
    func mutationQueue(storeMode: UInt32, storeGroup: UInt32? = nil, creating: Bool = false) throws(StateStoreError) -> MutationQueue? {
        try MutationQueue.open(
            in: descriptor, name: files.queueDirectory, storePath: path, calls: calls, storeMode: storeMode, storeGroup: storeGroup,
            creating: creating)
    }
}
