import Foundation

/// The repair behind ``StateStore/recover(directory:name:_:dryRun:options:)``: under the writer
/// lock, the state file is classified again, then replaced by the recovered version the usual
/// way (temp file, fsync, rename, directory fsync). The replaced file is first linked beside it
/// under a new name, so nothing of it is lost.
struct StoreRecovery {
    let handle: StoreHandle

    /// What is in the state file's place.
    enum Finding {
        /// A plain JSON text (a foreign writer's `os.replace`).
        case plainJSON([UInt8])
        /// A file of ours that is damaged: its checksum fails, its header is malformed, or its
        /// state is not JSON. The version is the one its header names, when it can be read.
        case damaged(version: UInt64?)
    }

    func run(_ action: RecoveryAction, dryRun: Bool) throws(StateStoreError) -> RecoveryOutcome {
        let dir = try handle.openDirectory()
        if dryRun { return try plan(action, dir: dir) }
        try handle.checkFileSystem(dir)
        guard let lockFile = try? handle.calls.fstatat(dir.descriptor, handle.files.lockFile) else {
            let lockPath = handle.path(handle.files.lockFile)
            throw StateStoreError(
                .notFound, "\(lockPath) does not exist, so the recovery could not exclude other writers.",
                hint: "If no writer is running, create it empty with the state file's owner and mode (touch \(lockPath)); nothing was changed.",
                path: lockPath)
        }
        let lock = try WriterLock.acquire(
            calls: handle.calls, directory: dir.descriptor, lockFile: handle.files.lockFile,
            path: handle.path(handle.files.lockFile), timeout: handle.options.lockTimeout)
        // Decided under the lock: no writer of ours can commit between the decision and the rename.
        var outcome = try plan(action, dir: dir)
        let (header, stateBytes) = try recovered(outcome, action: action, dir: dir)
        if handle.options.durability != .none, let schema = outcome.settings.schema {
            try SchemaFile(handle: handle).makeDurable(schema, directory: dir.descriptor)
        }
        outcome.keptAs = try keepReplacedFile(dir)
        try OrphanSweeper(calls: handle.calls, directory: dir.descriptor, directoryPath: handle.directory, files: handle.files)
            .sweep(logger: handle.options.logger)
        try AtomicReplace(calls: handle.calls, directory: dir.descriptor, directoryPath: handle.directory).replace(
            handle.files.stateFile, with: try StateFileCodec.encode(header: header, stateBytes: stateBytes),
            tempPrefix: handle.files.tempPrefix,
            attributes: .init(mode: outcome.settings.fileMode, owner: ProcessIdentity.isRoot ? (lockFile.owner, lockFile.group) : nil),
            durability: handle.options.durability)
        lock.release()
        outcome.committed = true
        handle.options.logger.info(
            "recovered store", metadata: ["store": "\(handle.stateFilePath)", "action": "\(action)", "version": "\(outcome.version)"])
        return outcome
    }

    /// What the recovery will do, from the state file and what survives beside it.
    private func plan(_ action: RecoveryAction, dir: OwnedDescriptor) throws(StateStoreError) -> RecoveryOutcome {
        let finding = try classify(dir)
        let surviving = SurvivingStore.survey(handle, dir)
        let lastKept = surviving?.lastKept
        let replacedVersion: UInt64?
        var settings: StoreSettings?
        switch finding {
        case .plainJSON:
            replacedVersion = surviving?.overwrittenVersion
        case .damaged(let version):
            replacedVersion = [version, surviving?.highestKeptVersion].compactMap { $0 }.max()
            settings = currentSettings(dir)
        }
        switch action {
        case .adopt:
            guard case .plainJSON = finding else {
                throw StateStoreError(
                    .invalidArgument, "\(handle.stateFilePath) is a damaged state file, not a foreign plain-JSON one: there is no content to adopt.",
                    hint: "Bring back the last kept version (statectl recover --restore) or re-create the store by force (statectl init --force); nothing was changed.",
                    path: handle.stateFilePath)
            }
        case .restore:
            guard lastKept != nil else {
                throw StateStoreError(
                    .notFound, "No kept version of \(handle.stateFilePath) verifies, so there is nothing to restore.",
                    hint: "Adopt the plain content instead (statectl recover --adopt), or re-create the store by force (statectl init --force); nothing was changed.",
                    path: handle.history(dir.descriptor).path)
            }
        }
        settings = settings ?? lastKept?.header.settings
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
        return RecoveryOutcome(
            action: action, replacedVersion: replacedVersion, restoredVersion: action == .restore ? lastKept?.header.version : nil,
            version: version, storeID: lastKept?.header.store ?? UUID().uuidString.lowercased(), identityKept: lastKept != nil,
            settings: settings ?? defaultSettings(surviving), keptAs: nil, committed: false)
    }

    /// The settings in the damaged current file's header, when it can be read.
    private func currentSettings(_ dir: OwnedDescriptor) -> StoreSettings? {
        guard let fd = try? handle.calls.open(dir.descriptor, handle.files.stateFile, .readExisting) else { return nil }
        let file = OwnedDescriptor(fd, calls: handle.calls)
        guard let start = try? handle.calls.read(file.descriptor, upTo: StateFileHeader.maximumLength + 1),
            let newline = start.firstIndex(of: UInt8(ascii: "\n"))
        else { return nil }
        return StateFileHeader.decode(start[..<newline])?.settings
    }

    /// Nothing survived that records the settings: the defaults, with the lockfile's mode.
    private func defaultSettings(_ surviving: SurvivingStore?) -> StoreSettings {
        var settings = StoreSettings()
        if let mode = surviving?.lockFile?.permissions { settings.fileMode = mode }
        return settings
    }

    /// Reads the whole state file and tells what it is.
    private func classify(_ dir: OwnedDescriptor) throws(StateStoreError) -> Finding {
        let bytes: [UInt8]
        do {
            let fd = OwnedDescriptor(try handle.calls.open(dir.descriptor, handle.files.stateFile, .readExisting), calls: handle.calls)
            bytes = try handle.calls.read(fd.descriptor, upTo: StoreSettings.largestMaximumStateBytes + StateFileHeader.maximumLength + 1)
        } catch .noSuchFileOrDirectory {
            throw handle.noStore
        } catch {
            throw .system(.readState, path: handle.stateFilePath, errno: error)
        }
        if StateFileCodec.isPlainJSON(bytes) { return .plainJSON(bytes) }
        let version: UInt64?
        do throws(StateStoreError) {
            let (header, state) = try StateFileCodec.decode(bytes, path: handle.stateFilePath)
            guard (try? JSONParser.check(state)) == nil else {
                throw StateStoreError(
                    .invalidArgument, "\(handle.stateFilePath) holds version \(header.version), which verifies: there is nothing to recover.",
                    hint: "To go back to an earlier version, use statectl rollback; nothing was changed.", path: handle.stateFilePath)
            }
            version = header.version
        } catch where error.code == .corrupt || error.code == .unverifiable {
            version = StateFileCodec.claimedVersion(bytes)
        }
        return .damaged(version: version)
    }

    /// The new version's header and state bytes, checked against the size limit and the schema.
    private func recovered(
        _ outcome: RecoveryOutcome, action: RecoveryAction, dir: OwnedDescriptor
    ) throws(StateStoreError) -> (StateFileHeader, [UInt8]) {
        let stateBytes: [UInt8]
        switch action {
        case .adopt:
            guard case .plainJSON(let bytes) = try classify(dir) else { preconditionFailure("planned as plain JSON") }
            stateBytes = try StateEncoding.encode(
                try StateEncoding.decode(JSONValue.self, from: bytes, path: handle.stateFilePath, source: .input),
                limit: outcome.settings.maximumStateBytes)
        case .restore:
            guard let version = outcome.restoredVersion else { preconditionFailure("planned with a kept version") }
            stateBytes = Array(try handle.history(dir.descriptor).read(version: version).stateBytes)
        }
        if let checksum = outcome.settings.schema {
            let schema = try SchemaFile(handle: handle).load(checksum)
            if let violation = schema.firstViolation(of: try JSONValue.checked(stateBytes)) {
                throw SchemaFile.refusal(violation, path: handle.stateFilePath, what: "The recovered state")
            }
        }
        let header = StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: StateFileHeader.revision(for: outcome.settings),
            store: outcome.storeID, version: outcome.version, committedAt: CommitTimestamp.format(Date()),
            writer: .current(label: handle.options.label), settings: outcome.settings, stateBytes: stateBytes.count,
            checksum: Checksum.of(stateBytes))
        return (header, stateBytes)
    }

    /// Links the file being replaced to `NAME.replaced-STAMP.json`, so that its bytes survive.
    private func keepReplacedFile(_ dir: OwnedDescriptor) throws(StateStoreError) -> String {
        let stamp = CommitTimestamp.format(Date()).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
        let name = "\(handle.files.name).replaced-\(stamp).json"
        do {
            try handle.calls.link(dir.descriptor, handle.files.stateFile, dir.descriptor, name)
        } catch {
            throw .system(.createStore, path: handle.path(name), errno: error)
        }
        return handle.path(name)
    }
}
