import Foundation
import SystemPackage

/// Creating a store, or re-creating one by force: under the writer lock, so that no writer can
/// commit between the decision and the new state file.
struct StoreCreation {
    let handle: StoreHandle
    let settings: StoreSettings
    /// The plain JSON file being imported, when it may be the store's own state file: then it is
    /// imported in place (kept as `NAME.plain.json`, the store renamed over it).
    var importing: FileStatus? = nil
    /// The new store's first version when it is not re-created by force: a mirror's local store
    /// starts at its source's current version, so that both number alike (0 otherwise).
    var startingVersion: UInt64 = 0

    /// `NAME.plain.json`: where a bot's file imported in place is kept.
    static func plainCopyName(_ files: StoreFiles) -> String { files.name + ".plain.json" }

    /// What to do when the store exists already.
    enum WhenExists { case fail, replace, keep }

    /// Creates the store; returns false when it existed already and `whenExists` is `.keep`
    /// (then nothing was changed: several processes starting at once each "open or create" the
    /// same store, and exactly one creates it).
    @discardableResult
    func run(stateBytes: [UInt8], whenExists: WhenExists) throws(StateStoreError) -> Bool {
        let force = whenExists == .replace
        try WriterIdentity.validate(label: handle.options.label)
        // A new store never starts with a state its own schema refuses.
        if let schema = settings.schemaDocument, let violation = schema.firstViolation(of: try JSONValue.checked(stateBytes)) {
            throw SchemaFile.refusal(violation, path: handle.stateFilePath, what: "The first state")
        }
        let dir = try handle.openDirectory()
        try StoreOpening(handle).checkFileSystem(dir)
        // A plain JSON file in the state file's place is not overwritten, and no lockfile is
        // left beside it: the import command says to move it aside first.
        let inPlace = try isImportedFile(dir)
        if !force, !inPlace, let plain = StoreOpening(handle).plainJSONError(dir) { throw plain }
        let createdLockFile = try createLockFile(dir)
        let lock = try dir.lockWriters(timeout: handle.options.lockTimeout)
        let created: Bool
        do {
            created = try createUnderLock(dir, stateBytes: stateBytes, whenExists: inPlace ? .replace : whenExists, inPlace: inPlace)
        } catch {
            // A creation that failed leaves no lockfile of its own behind: a lone lockfile beside a
            // bot's plain file would read as a store that file overwrote.
            if createdLockFile, error.outcome == nil || error.outcome == .notCommitted {
                try? handle.calls.unlink(dir.descriptor, handle.files.lockFile, false)
            }
            lock.release()
            throw error
        }
        lock.release()
        return created
    }

    /// The creation proper, with the writer lock held.
    private func createUnderLock(
        _ dir: StoreDirectory, stateBytes: [UInt8], whenExists: WhenExists, inPlace: Bool
    ) throws(StateStoreError) -> Bool {
        guard let version = try firstVersion(dir, whenExists: whenExists) else { return false }
        if whenExists == .replace, !inPlace, let aside = try dir.history.moveAside(timestamp: Self.asideStamp()) {
            handle.options.logger.info(
                "moved the replaced store's history aside", metadata: ["store": "\(handle.stateFilePath)", "to": "\(aside)"])
        }
        // Nothing published for the store being replaced is ever applied to the new one (a queue
        // anyone may write is emptied too: emptying it commits nothing).
        if whenExists == .replace, let queue = try? dir.mutationQueue(storeMode: 0o666) {
            queue.dropAll()
        }
        if settings.keepsHistory { try dir.history.create(fileMode: settings.fileMode) }
        if let checksum = settings.schema {
            // Written before the state file that names it; settings naming a file that is not
            // there must name an existing one, whose rules the first state must meet.
            if let schema = settings.schemaDocument {
                _ = try SchemaFile(handle: handle).write(schema, directory: dir.descriptor, fileMode: settings.fileMode)
            } else if let violation = try SchemaFile(handle: handle).load(checksum).firstViolation(of: try JSONValue.checked(stateBytes)) {
                throw SchemaFile.refusal(violation, path: handle.stateFilePath, what: "The first state")
            }
        }
        let header = StateFileHeader.committing(
            store: UUID().uuidString.lowercased(), version: version, settings: settings, stateBytes: stateBytes, label: handle.options.label)
        try dir.orphanSweeper.sweep(logger: handle.options.logger)
        let file = StateFileCodec.encode(header: header, stateBytes: stateBytes)
        let replace = AtomicReplace(dir.pendingFileTarget)
        if inPlace {
            try importInPlace(file, dir: dir, replace: replace)
        } else {
            try replace.replace(
                handle.files.stateFile, with: file, tempPrefix: handle.files.tempPrefix, attributes: .init(mode: settings.fileMode, owner: nil),
                durability: handle.options.durability)
        }
        handle.options.logger.info(
            "created store", metadata: ["store": "\(handle.stateFilePath)", "version": "\(version)", "identity": "\(header.store)"])
        return true
    }

    /// Swaps the store's first version with the bot's file in one `renameat2(RENAME_EXCHANGE)`,
    /// the bot's file ending up as `NAME.plain.json`. If the bot wrote again after its file was
    /// read, the swap is undone (its newest file back in place, nothing of it lost) and the
    /// import refused: the store would start from a state older than the bot's.
    private func importInPlace(_ file: [UInt8], dir: StoreDirectory, replace: AtomicReplace) throws(StateStoreError) {
        let copy = Self.plainCopyName(handle.files)
        let kept: FileStatus
        do {
            kept = try replace.replace(
                handle.files.stateFile, with: file, keeping: copy, tempPrefix: handle.files.tempPrefix,
                attributes: .init(mode: settings.fileMode, owner: nil), durability: handle.options.durability)
        } catch where error.errno == .fileExists {
            throw StateStoreError(
                .alreadyExists, "\(handle.path(copy)) exists, so \(handle.stateFilePath) cannot be kept there; nothing was changed.",
                hint: "Move \(handle.path(copy)) away (it may be an earlier import's copy) and import again.", path: handle.path(copy))
        }
        guard let importing, !kept.isSameFile(as: importing) else { return }
        do {
            try handle.calls.exchange(dir.descriptor, copy, handle.files.stateFile)
            try handle.calls.unlink(dir.descriptor, copy, false)
        } catch {
            var failure = StateStoreError.system(.rename, path: handle.path(copy) + " <-> " + handle.stateFilePath, errno: error, stateUnchanged: false)
            failure.outcome = .unknown
            throw failure
        }
        throw StateStoreError(
            .conflict, "\(handle.stateFilePath) was replaced while it was being imported (a bot still writes it); its newest content is back in place and nothing was created.",
            hint: "Stop the bot that writes it, then import again.", path: handle.stateFilePath)
    }

    /// Whether the file being imported is this store's state file (same device and inode): a
    /// bot's file imported where it lies.
    private func isImportedFile(_ dir: StoreDirectory) throws(StateStoreError) -> Bool {
        guard let importing, let current = try? handle.calls.fstatat(dir.descriptor, handle.files.stateFile) else { return false }
        guard current.isSameFile(as: importing) else { return false }
        guard StoreOpening(handle).plainJSONError(dir) != nil else {
            throw StateStoreError(
                .alreadyExists, "\(handle.stateFilePath) is already a store's state file, not plain JSON to import; nothing was changed.",
                hint: "Open the store instead.", path: handle.stateFilePath)
        }
        return true
    }

    /// `20261201T194459.524Z`: sorts by time and has no character a shell or a file name minds.
    static func asideStamp() -> String {
        CommitTimestamp.format(Date()).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
    }

    /// Creates `NAME.lock` if it is missing, never truncating or replacing an existing one.
    /// Returns whether it created it.
    private func createLockFile(_ dir: StoreDirectory) throws(StateStoreError) -> Bool {
        let path = handle.path(handle.files.lockFile)
        do {
            let fd = OwnedDescriptor(
                try handle.calls.open(dir.descriptor, handle.files.lockFile, .createEmpty([.ownerRead, .ownerWrite])),
                calls: handle.calls)
            // A group that may write the store's directory is a writers' group: its members lock too.
            let groupWritesDirectory = ((try? handle.calls.fstat(dir.descriptor))?.permissions ?? 0) & 0o020 != 0
            try handle.calls.fchmod(fd.descriptor, FilePermissions(rawValue: settings.lockFileMode | (groupWritesDirectory ? 0o060 : 0)))
            try fd.close()
            return true
        } catch .fileExists {
            return false
        } catch {
            throw .system(.createStore, path: path, errno: error)
        }
    }

    /// 0 for a new store; above every version still known when re-creating by force; nil when
    /// the store exists and is to be kept.
    private func firstVersion(_ dir: StoreDirectory, whenExists: WhenExists) throws(StateStoreError) -> UInt64? {
        let exists: Bool
        do {
            _ = try handle.calls.fstatat(dir.descriptor, handle.files.stateFile)
            exists = true
        } catch .noSuchFileOrDirectory {
            exists = false
        } catch {
            throw .system(.createStore, path: handle.stateFilePath, errno: error)
        }
        if exists && whenExists == .keep { return nil }
        if exists && whenExists == .fail {
            throw StateStoreError(
                .alreadyExists, "A store already exists at \(handle.stateFilePath); nothing was changed.",
                hint: "Open it instead; to replace it (recovery of a corrupt store), create with force (statectl init --force).",
                path: handle.stateFilePath)
        }
        // Every surviving file counts: the state file's header (even damaged), kept versions by
        // name (even empty ones a power loss left), and histories set aside by an earlier --force.
        let history = dir.history
        let known = [try highestRecordedVersion(dir), try history.versions().last, history.highestVersionSetAside()].compactMap { $0 }
        guard let highest = known.max() else { return startingVersion }
        handle.options.logger.info(
            "re-creating store by force; numbering continues above the highest known version",
            metadata: ["store": "\(handle.stateFilePath)", "highest": "\(highest)"])
        guard highest < UInt64.max else {
            throw StateStoreError(
                .invalidArgument, "\(handle.stateFilePath) records version \(highest), the largest there is; numbering cannot continue above it.",
                hint: "Move the store's files aside and create a new store.", path: handle.stateFilePath)
        }
        return max(highest + 1, startingVersion)
    }

    /// The version in the current file's header even if the file fails verification (only the
    /// header line is needed); nil when there is no readable header.
    private func highestRecordedVersion(_ dir: StoreDirectory) throws(StateStoreError) -> UInt64? {
        let bytes: [UInt8]
        do {
            let fd = OwnedDescriptor(
                try handle.calls.open(dir.descriptor, handle.files.stateFile, .readExisting),
                calls: handle.calls)
            bytes = try handle.calls.read(fd.descriptor, upTo: StateFileHeader.maximumLength)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch .tooManySymbolicLinkLevels {
            return nil
        } catch {
            throw .system(.createStore, path: handle.stateFilePath, errno: error)
        }
        return StateFileCodec.claimedVersion(bytes)
    }
}
