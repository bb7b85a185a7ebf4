import SystemPackage

/// Replaces a file atomically: write a temp file beside it, fsync, `rename(2)` over, fsync the
/// directory. Until the rename nothing visible changes; after it, readers opening the name see
/// the whole new file. Callers hold the writer lock.
struct AtomicReplace {
    /// How often to draw a new temp name when one exists already (only a planted file can collide).
    private static let nameAttempts = 8

    let calls: SystemCalls
    /// Descriptor of the directory holding the file.
    let directory: FileDescriptor
    /// The directory's path, for messages.
    let directoryPath: String
    /// Where the fsync durations go (a commit's; nil elsewhere).
    var metrics: WriterMetrics? = nil

    /// The ownership and permission bits to give the new file.
    struct Attributes {
        var mode: UInt32
        /// Owner and group to set with `fchown`, only when running as root.
        var owner: (user: UInt32, group: UInt32)?
    }

    /// Writes `bytes` to a new temp file named with `tempPrefix`, then renames it over `target`.
    ///
    /// - Parameter beforeRename: runs after the temp file is durable, just before the rename (the
    ///   history link of the outgoing version and the lock check go there).
    /// - Throws: a ``StateStoreError`` naming the step, path and errno. Before the rename the old
    ///   file is untouched and the temp file removed. After a failed rename or directory fsync the
    ///   store looks at what `target` now is, and the error's ``StateStoreError/outcome`` says
    ///   whether the new version was committed.
    func replace(
        _ target: String, with bytes: [UInt8], tempPrefix: String, attributes: Attributes, durability: Durability,
        beforeRename: () throws(StateStoreError) -> Void = {}
    ) throws(StateStoreError) {
        let (temp, identity) = try writeTemp(prefix: tempPrefix, bytes: bytes, attributes: attributes, durability: durability) {
            () throws(StateStoreError) in try beforeRename()
        }
        do { try calls.rename(directory, temp, target) } catch {
            throw failedRename(temp: temp, target: target, identity: identity, errno: error)
        }
        try checkRenamedIn(target, identity: identity)
        guard durability == .full else { return }
        // Without this fsync the rename lives only in the page cache: after a power loss the
        // directory may still name the old file, and a commit we acknowledged would be gone.
        do {
            if let timer = metrics?.directorySyncDuration { try timer.time { () throws(Errno) in try calls.fsync(directory) } }
            else { try calls.fsync(directory) }
        } catch {
            var failure = StateStoreError.system(.syncDirectory, path: directoryPath, errno: error, stateUnchanged: false)
            failure.outcome = .committedDurabilityUnknown
            failure.message += " Outcome: \(CommitOutcome.committedDurabilityUnknown)."
            throw failure
        }
    }

    /// Like ``replace(_:with:tempPrefix:attributes:durability:beforeRename:)``, but the file
    /// replaced is kept, whole, under `keep`: the new file is first given the name `keep` (a link,
    /// never over an existing file), then swapped with `target` in one `renameat2(RENAME_EXCHANGE)`,
    /// so that whatever `target` held at that instant (even a file a foreign writer put there a
    /// moment before) ends up under `keep`. A crash before the swap leaves `keep` holding the new
    /// file and `target` untouched. Returns the status of the file now kept.
    func replace(
        _ target: String, with bytes: [UInt8], keeping keep: String, tempPrefix: String, attributes: Attributes, durability: Durability
    ) throws(StateStoreError) -> FileStatus {
        let (temp, identity) = try writeTemp(prefix: tempPrefix, bytes: bytes, attributes: attributes, durability: durability) {}
        defer { try? calls.unlink(directory, temp, false) }
        do { try calls.link(directory, temp, directory, keep) } catch { throw .system(.rename, path: path(temp) + " -> " + path(keep), errno: error) }
        do { try calls.exchange(directory, keep, target) } catch {
            try? calls.unlink(directory, keep, false)
            throw .system(.rename, path: path(keep) + " <-> " + path(target), errno: error)
        }
        try checkRenamedIn(target, identity: identity)
        let kept: FileStatus
        do { kept = try calls.fstatat(directory, keep) } catch {
            throw .system(.rename, path: path(keep), errno: error, stateUnchanged: false)
        }
        guard durability == .full else { return kept }
        do { try calls.fsync(directory) } catch {
            var failure = StateStoreError.system(.syncDirectory, path: directoryPath, errno: error, stateUnchanged: false)
            failure.outcome = .committedDurabilityUnknown
            throw failure
        }
        return kept
    }

    /// A rename that reported an error may still have taken effect (seen under a crashing file
    /// system): find out from what `target` is now, and say so in the error. The temp file is
    /// removed only when the rename did not take effect.
    private func failedRename(temp: String, target: String, identity: FileStatus, errno: Errno) -> StateStoreError {
        let outcome: CommitOutcome
        switch Result(catching: { () throws(Errno) in try calls.fstatat(directory, target) }) {
        case .success(let now) where now.device == identity.device && now.inode == identity.inode:
            outcome = .committedDurabilityUnknown
        case .success, .failure(.noSuchFileOrDirectory):
            outcome = .notCommitted
        case .failure:
            outcome = .unknown
        }
        if outcome != .committedDurabilityUnknown,
            let left = try? calls.fstatat(directory, temp), left.device == identity.device, left.inode == identity.inode
        {
            try? calls.unlink(directory, temp, false)
        }
        var error = StateStoreError.system(
            .rename, path: path(temp) + " -> " + path(target), errno: errno, stateUnchanged: outcome == .notCommitted)
        error.outcome = outcome
        error.message += " Outcome: \(outcome)."
        return error
    }

    private func path(_ name: String) -> String { directoryPath + "/" + name }

    private func createTemp(prefix: String) throws(StateStoreError) -> (String, OwnedDescriptor) {
        var attempt = 0
        while true {
            let name = TempFileName.make(prefix: prefix)
            do {
                // 0600 until fchmod sets the final mode: nobody else may open it meanwhile.
                let fd = try calls.open(directory, name, .createForWriting([.ownerRead, .ownerWrite]))
                return (name, OwnedDescriptor(fd, calls: calls))
            } catch .fileExists where attempt < Self.nameAttempts {
                attempt += 1
            } catch {
                throw .system(.createTemp, path: path(name), errno: error)
            }
        }
    }

    /// A read-only descriptor of the new temp file, opened before anything is written to it: it
    /// fsyncs the file after the written descriptor is closed (the close is what tells watchers,
    /// through `IN_CLOSE_WRITE`, that the file is complete, and closing before the fsync gives
    /// them the fsync's time to read and verify it ahead of the rename), it reports every
    /// writeback error of the file (Linux tracks them per open file since 4.13, so it is opened
    /// first). Closed right after the fsync: a descriptor kept open on a file that is later
    /// replaced costs ext4 two journalled orphan-list updates.
    ///
    /// It is opened through `/proc/self/fd/N` of the descriptor that created the file, never by
    /// name: in a directory others may write, the name could be swapped (for a FIFO that blocks
    /// the open, or another file) between the creation and the reopening.
    private func openForSync(_ fd: OwnedDescriptor, _ temp: String) throws(StateStoreError) -> OwnedDescriptor? {
        do {
            return OwnedDescriptor(
                try calls.open(SystemCalls.currentDirectory, "/proc/self/fd/\(fd.descriptor.rawValue)", .readFollowingLinks), calls: calls)
        } catch .noSuchFileOrDirectory {
            return nil  // no /proc: the file is fsynced through the descriptor that wrote it
        } catch {
            throw .system(.createTemp, path: path(temp), errno: error)
        }
    }

    /// Creates a temp file named with `prefix`, writes `bytes`, fsyncs it (durability permitting),
    /// runs `finish`, and checks that its name still holds it; on any failure the temp file is
    /// removed. Returns its name and its device and inode: after a failed rename, the target is
    /// the new file exactly if it is this one.
    private func writeTemp(
        prefix: String, bytes: [UInt8], attributes: Attributes, durability: Durability, finish: () throws(StateStoreError) -> Void
    ) throws(StateStoreError) -> (name: String, identity: FileStatus) {
        let (temp, fd) = try createTemp(prefix: prefix)
        do throws(StateStoreError) {
            let identity: FileStatus
            do { identity = try calls.fstat(fd.descriptor) } catch { throw .system(.createTemp, path: path(temp), errno: error) }
            let syncFD = durability == .none ? nil : try openForSync(fd, temp)
            try prepare(fd, syncFD: syncFD, synchronize: durability != .none, path: path(temp), bytes: bytes, attributes: attributes)
            try finish()
            try checkStillNamed(temp, identity: identity)
            return (temp, identity)
        } catch {
            try? fd.close()
            try? calls.unlink(directory, temp, false)
            throw error
        }
    }

    /// After the rename: the target must be the file written. A swap between the last check and
    /// the rename (in a directory others may write) would otherwise leave another file in the
    /// store's place unnoticed; the error says the outcome is unknown, so the caller reads first.
    private func checkRenamedIn(_ target: String, identity: FileStatus) throws(StateStoreError) {
        guard let now = try? calls.fstatat(directory, target), now.device == identity.device, now.inode == identity.inode else {
            var error = StateStoreError(
                .ioFailure, "\(path(target)) is not the file just written after its rename (someone who may write \(directoryPath) swapped it).",
                hint: "Read the current version before anything else; only the store's writers should be able to write its directory.",
                path: path(target))
            error.outcome = .unknown
            throw error
        }
    }

    /// Refuses to rename a temp file whose name no longer names the file written: in a directory
    /// others may write, it could have been swapped for a FIFO or a file of theirs, which the
    /// rename would make the state file.
    private func checkStillNamed(_ temp: String, identity: FileStatus) throws(StateStoreError) {
        let named: FileStatus
        do { named = try calls.fstatat(directory, temp) } catch { throw .system(.createTemp, path: path(temp), errno: error) }
        guard named.device == identity.device, named.inode == identity.inode else {
            throw StateStoreError(
                .ioFailure, "\(path(temp)) was replaced by another file while it was being written (someone who may write \(directoryPath) swapped it); nothing was committed.",
                hint: "Only the store's writers should be able to write its directory: check its owner and mode.", path: path(temp))
        }
    }

    /// Sets the attributes, writes every byte and closes the temp file, then fsyncs it through
    /// `syncFD`; without one (no `/proc`), through `fd` before the close, when `synchronize`.
    private func prepare(
        _ fd: OwnedDescriptor, syncFD: OwnedDescriptor?, synchronize: Bool, path: String, bytes: [UInt8], attributes: Attributes
    ) throws(StateStoreError) {
        do {
            // fchmod, not the open mode: the open mode is filtered by the umask, and the new
            // version must have exactly the mode of the one it replaces.
            try calls.fchmod(fd.descriptor, FilePermissions(rawValue: attributes.mode))
            if let owner = attributes.owner { try calls.fchown(fd.descriptor, owner.user, owner.group) }
        } catch { throw .system(.setPermissions, path: path, errno: error) }
        try writeAll(fd, bytes: bytes, path: path)
        if synchronize, syncFD == nil {
            do { try calls.fsync(fd.descriptor) } catch { throw .system(.syncFile, path: path, errno: error) }
        }
        // close can report a deferred write error (NFS, quota): a failure here is a failed write.
        do { try fd.close() } catch { throw .system(.write, path: path, errno: error) }
        guard let syncFD else { return }
        do {
            if let timer = metrics?.fileSyncDuration { try timer.time { () throws(Errno) in try calls.fsync(syncFD.descriptor) } }
            else { try calls.fsync(syncFD.descriptor) }
        } catch { throw .system(.syncFile, path: path, errno: error) }
        do { try syncFD.close() } catch { throw .system(.syncFile, path: path, errno: error) }
    }

    private func writeAll(_ fd: OwnedDescriptor, bytes: [UInt8], path: String) throws(StateStoreError) {
        do { try calls.write(fd.descriptor, all: bytes) } catch { throw .system(.write, path: path, errno: error) }
    }
}
