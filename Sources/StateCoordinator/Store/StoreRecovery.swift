import Foundation

/// The repair behind ``StateStore/recover(directory:name:_:dryRun:options:)-3ighv``: under the
/// writer lock, the state file is read once and classified, the recovered version is written and
/// fsynced under the name `NAME.replaced-STAMP.json`, and that name is swapped with the state
/// file's in one `renameat2(RENAME_EXCHANGE)`: whatever the state file held at that instant (even
/// a file a foreign writer, which takes no lock, put there a moment before) is kept under that
/// name, so nothing of it is lost.
struct StoreRecovery {
    let handle: StoreHandle

    /// What is in the state file's place, as read once through one descriptor.
    struct Finding {
        enum Kind {
            /// A plain JSON text (a foreign writer's `os.replace`).
            case plainJSON
            /// A file of ours that is damaged: its checksum fails, its header is malformed, or its
            /// state is not JSON. The version is the one its header names, when it can be read.
            case damaged(version: UInt64?, settings: StoreSettings?)
        }
        var kind: Kind
        var bytes: [UInt8]
        /// The file read (device and inode), to tell whether it was replaced again meanwhile.
        var status: FileStatus
    }

    func run(_ action: RecoveryAction, dryRun: Bool) throws(StateStoreError) -> RecoveryOutcome {
        try WriterIdentity.validate(label: handle.options.label)
        let dir = try handle.openDirectory()
        let lockFile = try existingLockFile(dir)
        if dryRun { return try plan(action, finding: try classify(dir), dir: dir).outcome }
        try StoreOpening(handle).checkFileSystem(dir)
        let lock = try dir.lockWriters(timeout: handle.options.lockTimeout)
        // Decided under the lock: no writer of ours can commit between the decision and the swap.
        let finding = try classify(dir)
        var (outcome, stateBytes) = try plan(action, finding: finding, dir: dir)
        let header = StateFileHeader.committing(
            store: outcome.storeID, version: outcome.version, settings: outcome.settings, stateBytes: stateBytes, label: handle.options.label)
        if handle.options.durability != .none, let schema = outcome.settings.schema {
            try SchemaFile(handle: handle).makeDurable(schema, directory: dir.descriptor)
        }
        try dir.orphanSweeper.sweep(logger: handle.options.logger)
        let keep = "\(handle.files.name).replaced-\(StoreCreation.asideStamp()).json"
        let kept = try AtomicReplace(dir.pendingFileTarget).replace(
            handle.files.stateFile, with: StateFileCodec.encode(header: header, stateBytes: stateBytes), keeping: keep,
            tempPrefix: handle.files.tempPrefix,
            attributes: .init(mode: outcome.settings.fileMode, owner: ProcessIdentity.isRoot ? (lockFile.owner, lockFile.group) : nil),
            durability: handle.options.durability)
        lock.release()
        outcome.keptAs = handle.path(keep)
        outcome.replacedAgain = !kept.isSameFile(as: finding.status)
        outcome.committed = true
        handle.options.logger.info(
            "recovered store", metadata: ["store": "\(handle.stateFilePath)", "action": "\(action)", "version": "\(outcome.version)"])
        return outcome
    }

    /// The lockfile's status; a recovery needs it to exclude the store's writers.
    private func existingLockFile(_ dir: StoreDirectory) throws(StateStoreError) -> FileStatus {
        do { return try handle.calls.fstatat(dir.descriptor, handle.files.lockFile) } catch {
            let lockPath = handle.path(handle.files.lockFile)
            throw StateStoreError(
                .notFound, "\(lockPath) cannot be used (\(error)), so a recovery could not exclude other writers.",
                hint: "If no writer is running, create it empty, owned by the state file's owner, for the writers alone: install -m 600 /dev/null \(lockPath.shellQuoted) (660 for a writers' group); nothing was changed.",
                path: lockPath)
        }
    }

    /// What the recovery will do, and the state bytes of the new version, from the state file and
    /// what survives beside it.
    private func plan(
        _ action: RecoveryAction, finding: Finding, dir: StoreDirectory
    ) throws(StateStoreError) -> (outcome: RecoveryOutcome, stateBytes: [UInt8]) {
        let surviving = SurvivingStore.survey(handle, dir)
        let lastKept = surviving?.lastKept
        let replacedVersion: UInt64?
        var settings: (StoreSettings, String)?
        switch finding.kind {
        case .plainJSON:
            replacedVersion = surviving?.overwrittenVersion
        case .damaged(let version, let headerSettings):
            // A header that cannot be read hides the version: count above every kept one, so that
            // a version readers hold is never numbered again.
            replacedVersion = [version, surviving?.overwrittenVersion].compactMap { $0 }.max()
            settings = headerSettings.map { ($0, "the damaged file's header") }
        }
        let stateBytes: [UInt8]
        switch action {
        case .adopt:
            guard case .plainJSON = finding.kind else {
                throw StateStoreError(
                    .invalidArgument, "\(handle.stateFilePath) is a damaged state file, not a foreign plain-JSON one: there is no content to adopt.",
                    hint: "Bring back the last kept version (statectl recover --restore) or re-create the store by force (statectl init --force); nothing was changed.",
                    path: handle.stateFilePath)
            }
            settings = settings ?? lastKept.map { ($0.header.settings, "kept version \($0.header.version)") } ?? lostSettings(surviving, dir)
            stateBytes = try StateEncoding.encode(
                try StateEncoding.decode(JSONValue.self, from: finding.bytes, path: handle.stateFilePath, source: .input),
                limit: settings!.0.maximumStateBytes)
        case .restore:
            guard let lastKept else {
                throw StateStoreError(
                    .notFound, "No kept version of \(handle.stateFilePath) verifies, so there is nothing to restore.",
                    hint: "Adopt a plain content instead (statectl recover --adopt), or re-create the store by force (statectl init --force); nothing was changed.",
                    path: dir.history.path)
            }
            settings = settings ?? (lastKept.header.settings, "kept version \(lastKept.header.version)")
            stateBytes = Array(lastKept.stateBytes)
        }
        let (chosen, source) = settings!
        if let checksum = chosen.schema {
            let schema = try SchemaFile(handle: handle).load(checksum)
            if let violation = schema.firstViolation(of: try JSONValue.checked(stateBytes)) {
                throw SchemaFile.refusal(violation, path: handle.stateFilePath, what: "The recovered state")
            }
        }
        let version: UInt64
        if let replacedVersion {
            guard replacedVersion < UInt64.max else {
                throw StateStoreError(
                    .invalidArgument, "\(handle.stateFilePath) was at version \(replacedVersion), the largest there is; numbering cannot continue above it.",
                    hint: "Move the store's files aside and create a new store.", path: handle.stateFilePath)
            }
            version = replacedVersion + 1
        } else {
            version = 0
        }
        let outcome = RecoveryOutcome(
            action: action, replacedVersion: replacedVersion, restoredVersion: action == .restore ? lastKept?.header.version : nil,
            version: version, storeID: lastKept?.header.store ?? UUID().uuidString.lowercased(), identityKept: lastKept != nil,
            settings: chosen, settingsSource: source, keptAs: nil, replacedAgain: false, committed: false)
        return (outcome, stateBytes)
    }

    /// Nothing survived that records the settings: the defaults, with the lockfile's mode, and the
    /// schema when exactly one schema file of the store is there and verifies.
    private func lostSettings(_ surviving: SurvivingStore?, _ dir: StoreDirectory) -> (StoreSettings, String) {
        var settings = StoreSettings()
        // A writers' group's lockfile (0660) says the state was group-writable too; a lockfile
        // that is the owner's alone says nothing of the readers' group, so the default stays.
        if let mode = surviving?.lockFile?.permissions, mode & 0o060 == 0o060 { settings.fileMode = mode }
        let prefix = handle.files.name + ".schema-"
        let schemas = ((try? handle.calls.listDirectory(dir.descriptor)) ?? []).filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }
        let checksums = schemas.map { Checksum.prefix + $0.dropFirst(prefix.count).dropLast(5) }.filter(SchemaFile.isChecksum)
        var source = "lost with the file: the defaults, the lockfile's mode"
        if checksums.count == 1, (try? SchemaFile(handle: handle).load(checksums[0], cached: false)) != nil {
            settings.schema = checksums[0]
            source += ", and the store's only schema file"
        } else if !checksums.isEmpty {
            source += "; no schema (\(checksums.count) schema files: set the right one with statectl schema set)"
        }
        return (settings, source)
    }

    /// Reads the state file whole through one descriptor and tells what it is.
    private func classify(_ dir: StoreDirectory) throws(StateStoreError) -> Finding {
        let bytes: [UInt8]
        let status: FileStatus
        do {
            let fd = OwnedDescriptor(try handle.calls.open(dir.descriptor, handle.files.stateFile, .readExisting), calls: handle.calls)
            status = try handle.calls.fstat(fd.descriptor)
            bytes = try handle.calls.read(fd.descriptor, upTo: StoreSettings.largestMaximumStateBytes + StateFileHeader.maximumLength + 1)
        } catch .noSuchFileOrDirectory {
            throw StoreOpening(handle).noStore
        } catch {
            throw .system(.readState, path: handle.stateFilePath, errno: error)
        }
        if StateFileCodec.isPlainJSON(bytes) { return Finding(kind: .plainJSON, bytes: bytes, status: status) }
        let newline = bytes.prefix(StateFileHeader.maximumLength + 1).firstIndex(of: UInt8(ascii: "\n"))
        let settings = newline.flatMap { StateFileHeader.decode(bytes[..<$0]) }?.settings
        do throws(StateStoreError) {
            let (header, state) = try StateFileCodec.decode(bytes, path: handle.stateFilePath)
            guard (try? JSONParser.check(state)) == nil else {
                throw StateStoreError(
                    .invalidArgument, "\(handle.stateFilePath) holds version \(header.version), which verifies: there is nothing to recover.",
                    hint: "To go back to an earlier version, use statectl rollback; nothing was changed.", path: handle.stateFilePath)
            }
            return Finding(kind: .damaged(version: header.version, settings: settings), bytes: bytes, status: status)
        } catch where error.code == .corrupt || error.code == .unverifiable {
            return Finding(kind: .damaged(version: StateFileCodec.claimedVersion(bytes), settings: settings), bytes: bytes, status: status)
        }
    }
}
