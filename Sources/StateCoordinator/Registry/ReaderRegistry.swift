import Foundation
import SystemPackage

/// The reader registry of one store, `DIR/NAME.readers/`: listing its entries, telling live ones
/// from dead ones, and removing the dead. The protocol article specifies it:
///
/// - `ID.lock`: created with `O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`, never replaced; its reader
///   holds a shared `flock` on it for its whole life, so the kernel releases it when the reader
///   dies. An entry is live while an exclusive non-blocking `flock` on it fails.
/// - `ID.json`: the reader's record, replaced by renaming `ID.json.tmp` over it.
///
/// Whoever finds a dead entry removes it, and only while holding the exclusive lock on its lock
/// file: the record, its temp file, then the lock file. IDs are `PID-RANDOM`, never reused, so a
/// name removed can never be another reader's.
struct ReaderRegistry: Sendable {
    let calls: SystemCalls
    /// The registry directory's path.
    let path: String

    init(_ handle: StoreHandle) {
        calls = handle.calls
        path = handle.path(handle.files.readersDirectory)
    }

    static let lockSuffix = ".lock"
    static let recordSuffix = ".json"
    static let recordTempSuffix = ".json.tmp"

    /// What an entry's lock file says of its reader.
    enum Liveness: Equatable {
        /// A reader holds its shared lock.
        case live
        /// Nobody held it: the entry was dead, and was removed if this process may remove it.
        case dead
        /// The lock file is gone, or being removed by another process.
        case gone
        /// Could not be told (the lock file cannot be opened or locked here: another user's,
        /// EMFILE…): counted as alive, since nothing proves it dead, with the reason.
        case unknown(StateStoreError)
        /// Not an entry at all: its "lock file" is a symbolic link (dangling or not), a FIFO, a
        /// directory. No reader ever makes one, so it stands for no reader, never a maybe-alive
        /// one (one such planted name made every `--await-ack all` fail).
        case invalid

        static func == (lhs: Liveness, rhs: Liveness) -> Bool {
            switch (lhs, rhs) {
            case (.live, .live), (.dead, .dead), (.gone, .gone), (.unknown, .unknown), (.invalid, .invalid): true
            default: false
            }
        }

        /// Alive, or possibly so.
        var mayBeAlive: Bool {
            switch self {
            case .live, .unknown: true
            case .dead, .gone, .invalid: false
            }
        }
    }

    func entryPath(_ id: String, _ suffix: String) -> String { path + "/" + id + suffix }

    /// The IDs of the entries with a lock file, and the names of records and temp files whose
    /// entry has no lock file (left by a removal that stopped part-way; removed by ``sweepOrphans(_:)``).
    /// An empty registry when the directory does not exist.
    func entries() throws(StateStoreError) -> (ids: [String], orphans: [String]) {
        let names: [String]
        do {
            let fd = try calls.open(SystemCalls.currentDirectory, path, .ownDirectory)
            let directory = OwnedDescriptor(fd, calls: calls)
            names = try calls.listDirectory(directory.descriptor)
        } catch .noSuchFileOrDirectory {
            return ([], [])
        } catch {
            throw .system(.listReaders, path: path, errno: error, stateUnchanged: false)
        }
        let ids = Set(names.compactMap { Self.id(of: $0, suffix: Self.lockSuffix) })
        let orphans = names.filter { name in
            guard let id = Self.id(of: name, suffix: Self.recordTempSuffix) ?? Self.id(of: name, suffix: Self.recordSuffix) else { return false }
            return !ids.contains(id)
        }
        return (ids.sorted(), orphans)
    }

    /// The ID in an entry file's name, when it has `suffix` and the form `PID-HEX`.
    static func id(of name: String, suffix: String) -> String? {
        guard name.hasSuffix(suffix) else { return nil }
        let id = String(name.dropLast(suffix.count))
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(Self.isIDByte) }) else { return nil }
        return id
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// Removes records and temp files whose entry has no lock file. The lock file is looked for
    /// again first: a listing may miss a name created while it ran, and a record is only ever
    /// written after its lock file exists, which is never re-created once removed.
    func sweepOrphans(_ names: [String]) {
        for name in names {
            guard let id = Self.id(of: name, suffix: Self.recordTempSuffix) ?? Self.id(of: name, suffix: Self.recordSuffix) else { continue }
            if (try? calls.fstatat(SystemCalls.currentDirectory, entryPath(id, Self.lockSuffix))) != nil { continue }
            try? calls.unlink(SystemCalls.currentDirectory, path + "/" + name, false)
        }
    }

    /// Whether entry `id`'s reader is alive. A dead entry is removed here, holding its exclusive
    /// lock (when this process may not remove it, it is still reported dead).
    func liveness(of id: String) -> Liveness {
        let lockPath = entryPath(id, Self.lockSuffix)
        let unknown = { (errno: Errno) in Liveness.unknown(.system(.listReaders, path: lockPath, errno: errno, stateUnchanged: false)) }
        let lock: OwnedDescriptor
        do {
            lock = OwnedDescriptor(try calls.open(SystemCalls.currentDirectory, lockPath, .readExisting), calls: calls)
        } catch .noSuchFileOrDirectory {
            // A dangling symbolic link answers ENOENT to an open, too.
            if (try? calls.fstatat(SystemCalls.currentDirectory, lockPath))?.isSymbolicLink == true { return .invalid }
            return .gone
        } catch .tooManySymbolicLinkLevels {
            return .invalid
        } catch .permissionDenied {
            // Another user's entry (lock files are their readers' alone): the kernel's lock table says.
            return livenessFromLockTable(lockPath) ?? unknown(.permissionDenied)
        } catch {
            return unknown(error)
        }
        guard (try? calls.fstat(lock.descriptor))?.isRegularFile == true else { return .invalid }
        do {
            try calls.flock(lock.descriptor, .exclusiveNow)
        } catch .wouldBlock {
            // Held: by its reader (shared), or by another process removing it (exclusive).
            do { try calls.flock(lock.descriptor, .sharedNow) } catch .wouldBlock { return .gone } catch { return unknown(error) }
            defer { try? calls.flock(lock.descriptor, .unlock) }
            return isNamed(lock.descriptor, lockPath) ? .live : .gone
        } catch {
            return unknown(error)
        }
        // Ours exclusively: nobody holds it. Removed only if the name is still this file.
        guard isNamed(lock.descriptor, lockPath) else { return .gone }
        remove(id)
        return .dead
    }

    /// The liveness of an entry this process may not open, from `/proc/locks`: live while a
    /// process of the lock file's owner holds a lock on it; dead (left in place: only its owner,
    /// or a writer of the same user, may remove it) when none does; nil when the table cannot be
    /// read or the file is not a regular one.
    private func livenessFromLockTable(_ lockPath: String) -> Liveness? {
        guard let status = try? calls.fstatat(SystemCalls.currentDirectory, lockPath) else { return nil }
        guard status.isRegularFile else { return .invalid }
        guard let holders = LockHolder.holders(device: status.device, inode: status.inode) else { return nil }
        if holders.isEmpty { return .dead }
        let owners = holders.map { $0 > 0 ? LockHolder.uid(of: $0) : nil }
        if owners.contains(status.owner) { return .live }
        // A holder whose user cannot be told (another PID namespace, /proc mounted hidepid, a
        // process /proc shows as root's) may be the reader: possibly alive, never "no reader".
        if owners.contains(nil) { return nil }
        // Held only by processes known to be other users': not its reader's lock.
        return .invalid
    }

    /// Whether `path` still names the file open as `fd` (it may have been removed and, on ext4,
    /// its inode number reused at once: the device and inode are compared while it is held open).
    func isNamed(_ fd: FileDescriptor, _ path: String) -> Bool {
        guard let open = try? calls.fstat(fd), let named = try? calls.fstatat(SystemCalls.currentDirectory, path) else { return false }
        return open.device == named.device && open.inode == named.inode
    }

    /// Removes entry `id`'s files; the caller holds the exclusive lock on its lock file.
    func remove(_ id: String) {
        try? calls.unlink(SystemCalls.currentDirectory, entryPath(id, Self.recordSuffix), false)
        try? calls.unlink(SystemCalls.currentDirectory, entryPath(id, Self.recordTempSuffix), false)
        try? calls.unlink(SystemCalls.currentDirectory, entryPath(id, Self.lockSuffix), false)
    }

    /// Entry `id`'s record: nil while it has none yet (a reader registering), or the reason it
    /// cannot be used.
    func record(of id: String) -> Result<ReaderRecord, StateStoreError>? {
        let recordPath = entryPath(id, Self.recordSuffix)
        let bytes: [UInt8]
        do {
            let file = OwnedDescriptor(try calls.open(SystemCalls.currentDirectory, recordPath, .readExisting), calls: calls)
            bytes = try calls.read(file.descriptor, upTo: ReaderRecord.maximumBytes + 1)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            return .failure(.system(.listReaders, path: recordPath, errno: error, stateUnchanged: false))
        }
        if bytes.count <= ReaderRecord.maximumBytes, let format = ReaderRecord.format(of: bytes), format > ReaderRecord.currentFormat {
            return .failure(
                StateStoreError(
                    .unverifiable, "\(recordPath) is a reader record of format \(format), newer than this code reads (\(ReaderRecord.currentFormat)).",
                    hint: "Upgrade this program to the library version the reader uses.", path: recordPath))
        }
        guard bytes.count <= ReaderRecord.maximumBytes, let record = ReaderRecord.decode(bytes) else {
            return .failure(
                StateStoreError(
                    .corrupt, "\(recordPath) is not a reader record.",
                    hint: "It was not written by a reader following the protocol; the entry is listed without its record.",
                    path: recordPath))
        }
        return .success(record)
    }

    /// Every live reader, oldest registration first; dead entries met on the way are removed.
    /// A live entry without a usable record yet is listed with what is known (its ID's pid).
    func liveReaders() throws(StateStoreError) -> [RegisteredReader] {
        let (ids, orphans) = try entries()
        sweepOrphans(orphans)
        var readers: [RegisteredReader] = []
        for id in ids {
            let liveness = liveness(of: id)
            guard liveness.mayBeAlive else { continue }
            var listed = reader(id)
            if case .unknown(let error) = liveness { listed.problem = "liveness unknown: \(error.message)" }
            readers.append(listed)
        }
        return readers.sorted { ($0.registeredAt, $0.id) < ($1.registeredAt, $1.id) }
    }

    /// Entry `id` as its record describes it, or a placeholder saying why it has none usable
    /// (none yet: registering; or one this code cannot read).
    func reader(_ id: String) -> RegisteredReader {
        let found = record(of: id)
        if case .success(let record)? = found { return record.reader(id: id) }
        let pid = Int32(id.split(separator: "-").first ?? "") ?? 0
        var placeholder = RegisteredReader(
            id: id, label: "", processID: pid, hostName: "", registeredAt: .distantPast, storeID: nil, loaded: nil,
            applied: nil, rejected: nil, updatedAt: .distantPast)
        if case .failure(let error)? = found { placeholder.problem = error.message }
        return placeholder
    }
}
