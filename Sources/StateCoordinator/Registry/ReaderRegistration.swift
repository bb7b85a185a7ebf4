import Foundation
import Logging
import Synchronization
import SystemPackage

/// One reader's entry in its store's registry, for the reader's life: it holds the entry's
/// shared lock (its liveness) and rewrites the entry's record as the reader loads, applies and
/// rejects versions.
///
/// Marking a version is a memory write under a lock and, at most, a wake-up of the
/// registration's own thread, which writes the newest record (temp file + rename, no fsync):
/// marks made while a write runs are coalesced into the next one, and none of it runs on the
/// caller's thread or the cooperative pool. When the entry disappears (the registry directory
/// was deleted and re-created, or someone removed it) the next write registers again, under a
/// new ID.
final class ReaderRegistration: Sendable {
    /// How many fresh entry IDs registration tries before giving up (each attempt fails only if
    /// another process removed the lock file between its creation and its lock).
    static let maximumAttempts = 8
    /// Mode of the registry directory (the umask applies) and of the entry files.
    static let directoryPermissions: FilePermissions = [.ownerReadWriteExecute, .groupReadWriteExecute, .otherReadWriteExecute]
    static let filePermissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]
    /// A lock file is its reader's alone: one any user could open, any user could hold a shared
    /// lock on, keeping a dead reader "live". Others tell its liveness from `/proc/locks`.
    static let lockPermissions: FilePermissions = [.ownerReadWrite]

    /// Unchecked: the descriptor is used by one thread at a time (the registering one, then the
    /// registration's own thread).
    struct Entry: @unchecked Sendable {
        let id: String
        /// Holds the shared lock; closing it releases the lock.
        let lock: OwnedDescriptor
        /// The registry directory, opened without following a symbolic link: every file of the
        /// entry is created and renamed relative to it, so that a `NAME.readers` swapped for a
        /// link (in a store directory others may write) never sends a reader's writes elsewhere.
        let directory: OwnedDescriptor
    }

    private struct Contents {
        var record: ReaderRecord
        var entry: Entry?
        var writeQueued = false
        var closed = false
        /// The failure last logged, so that a persistent one is logged once.
        var reportedFailure: StateStoreError.Code?
    }

    let label: String
    private let handle: StoreHandle
    private let registry: ReaderRegistry
    private let contents: Mutex<Contents>
    private let thread: BlockingWorkThread

    private init(handle: StoreHandle, label: String) {
        self.handle = handle
        self.label = label
        // A registrant sweeps as it goes, even through a read-only store: it writes the registry anyway.
        registry = ReaderRegistry(handle, removesDeadEntries: true)
        contents = Mutex(
            Contents(record: ReaderRecord(label: label, pid: ProcessIdentity.id, host: ProcessIdentity.hostName, registeredAt: Date())))
        thread = BlockingWorkThread(name: "StateCoordinator.registry.\(handle.files.name)")
    }

    /// Checks a label: 1 to 200 bytes, no control or formatting characters.
    static func validate(label: String) throws(StateStoreError) {
        guard !label.isEmpty, label.utf8.count <= 200, !label.unicodeScalars.contains(where: { TerminalText.isUnsafe($0) }) else {
            throw StateStoreError(
                .invalidArgument, "Reader label \"\(label)\" is not allowed.",
                hint: "Use 1 to 200 bytes without control characters, for example the bot's name.")
        }
    }

    /// Registers a reader of `handle`'s store, blocking: creates the registry directory if
    /// needed, the entry's lock file, its shared lock, and its first record (with `loaded`).
    static func register(
        _ handle: StoreHandle, label: String, loaded: (version: UInt64, storeID: String)?
    ) throws(StateStoreError) -> ReaderRegistration {
        try validate(label: label)
        let registration = ReaderRegistration(handle: handle, label: label)
        if let loaded { registration.contents.withLock { _ = $0.record.load(loaded.version, storeID: loaded.storeID, at: Date()) } }
        try registration.writeRecord()
        return registration
    }

    /// The entry's ID, while registered.
    var id: String? { contents.withLock { $0.entry?.id } }

    /// Notes that the reader loaded `version`.
    func noteLoaded(_ version: UInt64, storeID: String) {
        update { $0.load(version, storeID: storeID, at: Date()) }
    }

    /// Notes that the application applied `version` (an acknowledgement).
    func acknowledge(_ version: UInt64, storeID: String) {
        update { $0.apply(version, storeID: storeID, at: Date()) }
    }

    /// Notes that the reader rejected `version` (a NACK), with why.
    func reject(_ version: UInt64, storeID: String, error: String) {
        update {
            $0.reject(version, storeID: storeID, error: error, at: Date())
            return true
        }
    }

    /// The identity of the store of the versions marked so far.
    var storeID: String? { contents.withLock { $0.record.storeID } }

    private func update(_ change: (inout ReaderRecord) -> Bool) {
        let schedule = contents.withLock { contents -> Bool in
            guard !contents.closed, change(&contents.record), !contents.writeQueued else { return false }
            contents.writeQueued = true
            return true
        }
        guard schedule else { return }
        thread.submit { [self] in
            contents.withLock { $0.writeQueued = false }
            do throws(StateStoreError) { try writeRecord() } catch { report(error) }
        }
    }

    /// Returns once every mark made before the call is written (or failed to be); at once
    /// after ``close()`` has run.
    func waitUntilWritten() async {
        await thread.run { () throws(Never) in }
    }

    /// Ends the registration: removes the entry (holding its lock exclusively) on the
    /// registration's thread, then lets the thread end. A process that exits first leaves a dead
    /// entry, which the next lister removes.
    func close() {
        _ = beginClosing(then: nil)
    }

    /// ``close()``, then returns once the entry is removed (and every report made before it is
    /// written): what a process that exits right after its watch ends calls. Returns at once when
    /// the registration was closed already.
    func closeAndWait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !beginClosing(then: { continuation.resume() }) { continuation.resume() }
        }
    }

    /// Submits the entry's removal, then `done`; false when the registration was closed already.
    private func beginClosing(then done: (@Sendable () -> Void)?) -> Bool {
        let closing = contents.withLock { contents -> Bool in
            defer { contents.closed = true }
            return !contents.closed
        }
        guard closing else { return false }
        thread.submit { [self] in
            let entry = contents.withLock { contents in
                defer { contents.entry = nil }
                return contents.entry
            }
            if let entry { remove(entry) }
            done?()
        }
        thread.end()
        return true
    }

    /// Removes our own entry: upgrading to the exclusive lock (a conversion that may let a
    /// sweeper in between, which then removes the entry itself).
    private func remove(_ entry: Entry) {
        let directory = entry.directory.descriptor
        if (try? handle.calls.flock(entry.lock.descriptor, .exclusiveNow)) != nil,
            registry.isNamed(entry.lock.descriptor, entry.id + ReaderRegistry.lockSuffix, in: directory)
        {
            registry.remove(entry.id, in: directory)
        }
        try? entry.lock.close()
    }

    private func report(_ error: StateStoreError) {
        let first = contents.withLock { contents -> Bool in
            defer { contents.reportedFailure = error.code }
            return contents.reportedFailure != error.code
        }
        if first {
            handle.options.logger.warning(
                "reader registry record not written", metadata: ["label": "\(label)", "error": "\(error)"])
        }
    }

    /// Writes the newest record, registering (again) first when the entry is gone.
    private func writeRecord() throws(StateStoreError) {
        // Twice at most: once more under a new ID when another user took the record's name.
        do { try writeRecordOnce() } catch let error where error.errno == .notPermitted && error.step == .writeReaderRecord {
            let taken = contents.withLock { contents in
                defer { contents.entry = nil }
                return contents.entry
            }
            if let taken {
                handle.options.logger.warning(
                    "reader registry record name taken by another user; registering again under a new ID",
                    metadata: ["label": "\(label)", "entry": "\(taken.id)"])
                remove(taken)
            }
            try writeRecordOnce()
        }
    }

    /// Writes the newest record once. A record name another user planted in the sticky registry
    /// makes the rename fail with `EPERM`.
    private func writeRecordOnce() throws(StateStoreError) {
        var entry = contents.withLock { $0.entry }
        if let current = entry,
            !registry.isNamed(current.lock.descriptor, current.id + ReaderRegistry.lockSuffix, in: current.directory.descriptor)
        {
            // Forgotten before it is closed: a closed descriptor number is never used again.
            contents.withLock { $0.entry = nil }
            try? current.lock.close()
            entry = nil
        }
        if entry == nil {
            let fresh = try createEntry()
            contents.withLock {
                $0.entry = fresh
                $0.record.id = fresh.id
            }
            entry = fresh
        }
        guard let entry else { return }
        let bytes = contents.withLock { contents -> [UInt8] in
            contents.record.updatedAt = Date().timeIntervalSince1970
            return contents.record.encoded()
        }
        let temp = ReaderRegistry.recordTempName(for: entry.id)
        let record = registry.entryPath(entry.id, ReaderRegistry.recordSuffix)
        let calls = handle.calls
        let directory = entry.directory.descriptor
        do throws(Errno) {
            // A new file under a fresh random name (O_EXCL, never following or truncating what is
            // there): in a directory every user may write, a name planted in advance (a hard link
            // to a file elsewhere) would otherwise be truncated and chmodded by this reader, root
            // or not. Checked to be the new file it must be before anything is written to it.
            let fd = OwnedDescriptor(try calls.open(directory, temp, .createForWriting(Self.filePermissions)), calls: calls)
            do throws(Errno) {
                let status = try calls.fstat(fd.descriptor)
                guard status.isRegularFile, status.owner == ProcessIdentity.effectiveUser, status.linkCount == 1 else { throw Errno.fileExists }
                try calls.fchmod(fd.descriptor, Self.filePermissions)  // readable by every lister, whatever the umask
                try calls.write(fd.descriptor, all: bytes)
                try fd.close()
                try calls.rename(directory, temp, entry.id + ReaderRegistry.recordSuffix)
            } catch {
                try? calls.unlink(directory, temp, false)
                throw error
            }
        } catch {
            throw .system(.writeReaderRecord, path: record, errno: error, stateUnchanged: false)
        }
        contents.withLock { $0.reportedFailure = nil }
    }

    /// Creates a new entry: the registry directory if missing, then a lock file under a fresh
    /// ID, locked shared, and checked to be still named (a sweeper may remove a lock file in the
    /// instant between its creation and its lock).
    private func createEntry() throws(StateStoreError) -> Entry {
        let calls = handle.calls
        do {
            try calls.mkdir(SystemCalls.currentDirectory, registry.path, Self.directoryPermissions)
        } catch .fileExists {
        } catch {
            throw .system(.registerReader, path: registry.path, errno: error, stateUnchanged: false)
        }
        // Never through a link (the reader goes on unregistered, and says why).
        guard let directory = try registry.openDirectory(step: .registerReader) else {
            throw .system(.registerReader, path: registry.path, errno: .noSuchFileOrDirectory, stateUnchanged: false)
        }
        for _ in 0..<Self.maximumAttempts {
            let id = Self.newID()
            let lockPath = registry.entryPath(id, ReaderRegistry.lockSuffix)
            let lock: OwnedDescriptor
            do {
                lock = OwnedDescriptor(
                    try calls.open(directory.descriptor, id + ReaderRegistry.lockSuffix, .createEmpty(Self.lockPermissions)), calls: calls)
                // Readable by every lister whatever the umask: one that cannot open it cannot tell it is alive.
                try calls.fchmod(lock.descriptor, Self.lockPermissions)
                // Not waiting: a process holding it exclusively (a sweeper, for an instant) gets a new ID instead.
                try calls.flock(lock.descriptor, .sharedNow)
            } catch .fileExists {
                continue
            } catch .wouldBlock {
                continue
            } catch {
                throw .system(.registerReader, path: lockPath, errno: error, stateUnchanged: false)
            }
            if registry.isNamed(lock.descriptor, id + ReaderRegistry.lockSuffix, in: directory.descriptor) {
                return Entry(id: id, lock: lock, directory: directory)
            }
        }
        throw StateStoreError(
            .ioFailure, "Could not register in \(registry.path): each new entry was removed at once, \(Self.maximumAttempts) times.",
            hint: "Another process is deleting the registry's files; stop it.", step: .registerReader, path: registry.path)
    }

    /// `PID-RANDOM`: 64 random bits, so that no later process (with this pid or not) reuses it.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 16)
        return "\(ProcessIdentity.id)-" + String(repeating: "0", count: 16 - random.count) + random
    }
}
