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

    /// The highest version named in a history directory an earlier `init --force` moved aside
    /// (`NAME.history.replaced-*`); nil when there is none. Numbering after a lost store
    /// continues above it too.
    func highestVersionSetAside() -> UInt64? {
        let prefix = files.historyDirectory + ".replaced-"
        guard let names = try? calls.listDirectory(storeDirectory) else { return nil }
        var highest: UInt64?
        for name in names where name.hasPrefix(prefix) {
            guard let fd = try? calls.open(storeDirectory, name, .ownDirectory) else { continue }
            let directory = OwnedDescriptor(fd, calls: calls)
            if let last = try? versions(in: directory.descriptor).last { highest = max(highest ?? 0, last) }
        }
        return highest
    }

    /// Creates the directory if missing; its mode is the files' mode plus search permission
    /// wherever read permission is given, so whoever may read the state may read its history.
    func create(fileMode: UInt32) throws(StateStoreError) {
        let searchBits = (fileMode & 0o444) >> 2
        let mode = FilePermissions(rawValue: fileMode | searchBits | 0o700)
        do { try calls.mkdir(storeDirectory, files.historyDirectory, mode) } catch .fileExists {
            return  // an operator's chmod of an existing one stands
        } catch { throw .system(.keepHistory, path: path, errno: error) }
        // mkdir applies the umask: under 077 a writers' group could then never link a version
        // into it, and every commit of its members would fail.
        do {
            let directory = OwnedDescriptor(try calls.open(storeDirectory, files.historyDirectory, .ownDirectory), calls: calls)
            // The set-group-ID bit a setgid store directory passed on stays: new entries keep the group.
            let inherited = try calls.fstat(directory.descriptor).mode & UInt32(FilePermissions.setGroupID.rawValue)
            try calls.fchmod(directory.descriptor, FilePermissions(rawValue: mode.rawValue | CModeT(inherited)))
        } catch { throw .system(.setPermissions, path: path, errno: error) }
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

    /// Links the current state file (at `version`) into history and prunes what the settings no
    /// longer keep: all but the newest `keepHistory` entries, except those committed within
    /// `keepHistoryFor`, and never more than `largestKeepHistory` in all. Runs with the writer
    /// lock held, just before the state file is replaced.
    func keep(version: UInt64, settings: StoreSettings, synchronize: Bool) throws(StateStoreError) {
        try create(fileMode: settings.fileMode)
        guard let directory = try open() else {
            throw StateStoreError(.notFound, "\(path) vanished while keeping history.", step: .keepHistory, path: path)
        }
        let name = StoreFiles.historyFile(version: version)
        do {
            try link(into: directory.descriptor, name: name)
            for old in try prunable(in: directory.descriptor, settings: settings) {
                try calls.unlink(directory.descriptor, StoreFiles.historyFile(version: old), false)
            }
            if synchronize { try calls.fsync(directory.descriptor) }
        } catch {
            throw .system(.keepHistory, path: path + "/" + name, errno: error)
        }
    }

    /// The kept versions the settings no longer keep, oldest first. By age, an entry's commit
    /// time is its file's modification time (the temp file was written just before its rename);
    /// versions are committed in order, so the first one young enough ends the search.
    private func prunable(in directory: FileDescriptor, settings: StoreSettings) throws(Errno) -> [UInt64] {
        let kept = try versions(in: directory)
        let beyondCount = kept.dropLast(settings.keepHistory)
        guard let age = settings.keepHistoryFor else { return Array(beyondCount) }
        let overCap = max(0, kept.count - StoreSettings.largestKeepHistory)
        let cutoff = WallClock.nanoseconds &- age.saturatingNanoseconds
        var prunable: [UInt64] = []
        for (position, old) in beyondCount.enumerated() {
            if position >= overCap {
                guard let status = try? calls.fstatat(directory, StoreFiles.historyFile(version: old)) else { continue }
                if status.modificationTimeNanoseconds >= cutoff { break }
            }
            prunable.append(old)
        }
        return prunable
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
        } catch where error.code == .corrupt || error.code == .unverifiable {
            // Damage to one kept version is damage to history, not to the store: the state is judged on its own.
            var damaged = error
            damaged.hint = "The current state and the other kept versions are not affected; remove the damaged entries with statectl history --prune-damaged (StateStore.pruneDamagedHistory())."
            throw damaged
        }
    }

    /// Removes the kept versions that fail verification (their bytes are damaged, as a power
    /// loss under durability `none` can leave them), never one that cannot be read for another
    /// reason (a permission, an I/O error). Runs with the writer lock held. Returns what it removed.
    func pruneDamaged(synchronize: Bool) throws(StateStoreError) -> [DamagedHistoryEntry] {
        guard let directory = try open() else { return [] }
        var removed: [DamagedHistoryEntry] = []
        for version in try versions() {
            let name = StoreFiles.historyFile(version: version)
            do { _ = try read(version: version) } catch where error.code == .corrupt || error.code == .unverifiable {
                do { try calls.unlink(directory.descriptor, name, false) } catch {
                    throw .system(.keepHistory, path: path + "/" + name, errno: error)
                }
                removed.append(DamagedHistoryEntry(version: version, path: path + "/" + name, reason: error.message))
            } catch {
                continue
            }
        }
        if synchronize, !removed.isEmpty {
            do { try calls.fsync(directory.descriptor) } catch { throw .system(.keepHistory, path: path, errno: error) }
        }
        return removed
    }
}
