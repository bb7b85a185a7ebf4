import SystemPackage

/// The checks made when a store is opened or created: that it exists (and what is there instead
/// when it does not: a typo'd name, a bot's plain JSON file to import), and what kind of file
/// system holds it. They touch nothing.
struct StoreOpening {
    let handle: StoreHandle

    init(_ handle: StoreHandle) { self.handle = handle }

    /// Throws unless both the lockfile and the state file exist: `notFound` when neither does;
    /// `unverifiable`, with the exact import command, when the state file is a plain JSON file
    /// (the original bot's, written with `os.replace()`); `notFound` naming the missing lockfile
    /// when only that is missing and the store is opened for writing (readers never lock).
    /// Touches nothing.
    func checkExists() throws(StateStoreError) {
        let dir = try handle.openDirectory()
        let hasState = try exists(handle.files.stateFile, in: dir)
        guard hasState else { throw noStore }
        if let plain = plainJSONError(dir) { throw plain }
        if !handle.forWriting { return }
        guard try exists(handle.files.lockFile, in: dir) else {
            let lockPath = handle.path(handle.files.lockFile)
            throw StateStoreError(
                .notFound,
                "The store \"\(handle.files.name)\" in \(handle.directory) has its state file but no lockfile: \(lockPath) does not exist, so writers cannot serialize.",
                hint: "If no writer is running, create it empty, owned by the state file's owner, for the writers alone: install -m 600 /dev/null \(lockPath.shellQuoted) (660 for a writers' group); nothing was changed.",
                path: lockPath)
        }
    }

    private func exists(_ file: String, in dir: StoreDirectory) throws(StateStoreError) -> Bool {
        do {
            _ = try handle.calls.fstatat(dir.descriptor, file)
            return true
        } catch .noSuchFileOrDirectory {
            return false
        } catch {
            throw .system(.openDirectory, path: handle.path(file), errno: error)
        }
    }

    /// The error for a state file that is plain JSON rather than a store's, with the commands
    /// that import it; nil for anything else (a store's file, damaged or not, is judged by the
    /// operation that reads it). Reads only the header's worth of a store's file.
    func plainJSONError(_ dir: StoreDirectory) -> StateStoreError? {
        guard let fd = try? handle.calls.open(dir.descriptor, handle.files.stateFile, .readExisting) else {
            return nil
        }
        let file = OwnedDescriptor(fd, calls: handle.calls)
        guard let start = try? handle.calls.read(file.descriptor, upTo: StateFileHeader.maximumLength + 1) else { return nil }
        if let newline = start.firstIndex(of: UInt8(ascii: "\n")), StateFileCodec.claimedHeader(start[..<newline]) != nil {
            return nil
        }
        let limit = StoreSettings.largestMaximumStateBytes
        guard let rest = try? handle.calls.read(file.descriptor, upTo: limit), start.count + rest.count <= limit,
            StateFileCodec.isPlainJSON(start + rest)
        else { return nil }
        if let surviving = SurvivingStore.survey(handle, dir) { return surviving.overwriteError(handle) }
        return StateStoreError(
            .unverifiable,
            "\(handle.stateFilePath) is a plain JSON file, not a StateCoordinator store, so it cannot be verified; nothing was touched.",
            hint: "Import it where it lies: statectl --dir \(handle.directory.shellQuoted) --name \(handle.files.name) init --from \(handle.stateFilePath.shellQuoted) (it becomes the store \"\(handle.files.name)\", its content kept as \(handle.files.name).plain.json; library: StateStore.importPlainJSON(from: \"\(handle.stateFilePath)\", directory: \"\(handle.directory)\", name: \"\(handle.files.name)\")).",
            path: handle.stateFilePath)
    }

    /// The kind of file system the store directory is on (`fstatfs`).
    func fileSystemKind(_ dir: StoreDirectory) throws(StateStoreError) -> FileSystemKind {
        do { return FileSystemKind(magic: try handle.calls.fstatfs(dir.descriptor)) } catch {
            throw .system(.checkFileSystem, path: handle.directory, errno: error)
        }
    }

    /// Refuses network file systems for writing unless the caller opted in.
    func checkFileSystem(_ dir: StoreDirectory) throws(StateStoreError) {
        guard let network = try fileSystemKind(dir).networkName, !handle.options.allowNetworkFileSystem else { return }
        throw StateStoreError(
            .networkFileSystem,
            "\(handle.directory) is on \(network), where flock(2) may be emulated or a no-op and other hosts' writes are not notified: writers could lose updates.",
            hint: "Keep the store on a local file system; if every writer runs on this one host, opt in with allowNetworkFileSystem (statectl --allow-network-fs).",
            step: .checkFileSystem, path: handle.directory)
    }

    /// The error for a directory without this store's state file; it names the stores that are
    /// there (a typo in the name, or a store created under its file's name).
    var noStore: StateStoreError {
        let others = (try? handle.openDirectory()).map { StoreDirectoryListing(calls: handle.calls, directory: $0.descriptor).storeNames() } ?? []
        let found = others.isEmpty ? "" : "; found: " + others.joined(separator: ", ")
        let hint =
            others.isEmpty
            ? "Create it first (StateStore.create or openOrCreate, or statectl init)."
            : "Name one of those (statectl --name NAME, or STATECTL_NAME), or create this one (statectl init)."
        return StateStoreError(
            .notFound, "No store named \"\(handle.files.name)\" in \(handle.directory): \(handle.stateFilePath) does not exist\(found).",
            hint: hint, path: handle.stateFilePath)
    }
}
