import SystemPackage

/// `NAME.history/`: past versions, each kept as a hard link to the state file it was, named by
/// its version (`00000000000000000042.json`). Linking copies nothing and the linked file is a
/// complete, verifiable state file with its own header (writer, time, checksum).
struct HistoryDirectory {
    let calls: SystemCalls
    /// Descriptor of the store directory.
    let storeDirectory: FileDescriptor
    let storeDirectoryPath: String
    let files: StoreFiles

    var path: String { storeDirectoryPath + "/" + files.historyDirectory }

    /// Opens the history directory; nil when it does not exist.
    func open() throws(StateStoreError) -> OwnedDescriptor? {
        do {
            let fd = try calls.open(storeDirectory, files.historyDirectory, .ownDirectory)
            return OwnedDescriptor(fd, calls: calls)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            throw .system(.keepHistory, path: path, errno: error)
        }
    }

    /// Renames the whole directory aside, to `NAME.history.replaced-TIMESTAMP`, where it is kept
    /// but is no longer part of the store (what `init --force` does with the old store's history:
    /// those versions belong to the old identity). Returns the new name, nil when there was none.
    func moveAside(timestamp: String) throws(StateStoreError) -> String? {
        let aside = files.historyDirectory + ".replaced-" + timestamp
        do {
            try calls.rename(storeDirectory, files.historyDirectory, aside)
            return storeDirectoryPath + "/" + aside
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            throw .system(.keepHistory, path: path + " -> " + storeDirectoryPath + "/" + aside, errno: error)
        }
    }

    /// Creates the directory if missing; its mode is the files' mode plus search permission
    /// wherever read permission is given, so whoever may read the state may read its history.
    func create(fileMode: UInt32) throws(StateStoreError) {
        let searchBits = (fileMode & 0o444) >> 2
        do { try calls.mkdir(storeDirectory, files.historyDirectory, FilePermissions(rawValue: fileMode | searchBits | 0o700)) } catch .fileExists {
        } catch { throw .system(.keepHistory, path: path, errno: error) }
    }

    /// The kept versions, oldest first.
    func versions() throws(StateStoreError) -> [UInt64] {
        guard let directory = try open() else { return [] }
        do { return try versions(in: directory.descriptor) } catch { throw .system(.keepHistory, path: path, errno: error) }
    }

    /// The versions kept in the open history directory, oldest first.
    private func versions(in directory: FileDescriptor) throws(Errno) -> [UInt64] {
        try calls.listDirectory(directory).compactMap(StoreFiles.version(ofHistoryFile:)).sorted()
    }

    /// Links the current state file (at `version`) into history and prunes all but the newest
    /// `depth` entries. Runs with the writer lock held, just before the state file is replaced.
    func keep(version: UInt64, depth: Int, fileMode: UInt32, synchronize: Bool) throws(StateStoreError) {
        try create(fileMode: fileMode)
        guard let directory = try open() else {
            throw StateStoreError(.notFound, "\(path) vanished while keeping history.", step: .keepHistory, path: path)
        }
        let name = StoreFiles.historyFile(version: version)
        do {
            try link(into: directory.descriptor, name: name)
            for old in try versions(in: directory.descriptor).dropLast(depth) {
                try calls.unlink(directory.descriptor, StoreFiles.historyFile(version: old), false)
            }
            if synchronize { try calls.fsync(directory.descriptor) }
        } catch {
            throw .system(.keepHistory, path: path + "/" + name, errno: error)
        }
    }

    /// A link left by a writer that died between linking and renaming names the same version:
    /// replace it so the entry is the file that was really committed last under that number.
    private func link(into directory: FileDescriptor, name: String) throws(Errno) {
        do {
            try calls.link(storeDirectory, files.stateFile, directory, name)
        } catch .fileExists {
            try calls.unlink(directory, name, false)
            try calls.link(storeDirectory, files.stateFile, directory, name)
        }
    }

    /// Reads and verifies a kept version.
    func read(version: UInt64) throws(StateStoreError) -> VerifiedStateFile {
        guard let directory = try open() else {
            throw StateStoreError(
                .notFound, "Version \(version) is not kept: \(path) does not exist.",
                hint: "History is off for this store (create it with keepHistory > 0).", path: path)
        }
        let name = StoreFiles.historyFile(version: version)
        do {
            return try StateFileReader(calls: calls).read(directory: directory.descriptor, name: name, path: path + "/" + name)
        } catch where error.code == .notFound {
            throw StateStoreError(
                .notFound, "Version \(version) is not kept in \(path).",
                hint: "See the kept versions with StateStore.history() or `statectl history`.", path: path)
        }
    }
}
