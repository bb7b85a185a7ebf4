import Foundation
import SystemPackage

/// The reader registry of one store, `DIR/NAME.readers/`: listing its entries, telling live ones
/// from dead ones, and removing the dead. The protocol article specifies it:
///
/// - `ID.lock`: created with `O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`, mode `0600`, never replaced;
///   its reader holds a shared `flock` on it for its whole life, so the kernel releases it when
///   the reader dies. An entry is live while an exclusive non-blocking `flock` on it fails (or,
///   for a lister of another user, while `/proc/locks` shows a process of its owner holding it).
/// - `ID.json`: the reader's record, naming its entry, replaced by renaming a temp file
///   `ID.json.RANDOM.tmp` (created `O_EXCL`) over it.
///
/// The directory is shared by every user (mode `1777`), so nothing in it is trusted by name:
/// it is opened without following a link, every entry file is reached relative to that
/// descriptor and opened `O_NOFOLLOW|O_NONBLOCK`, and an entry counts only when its lock file
/// and its record are regular files of one user, the record naming the entry
/// (``RegisteredReader/owner``).
///
/// A writer or a registrant that finds a dead entry removes it, and only while holding the
/// exclusive lock on its lock file: the record, its temp files, then the lock file. IDs are
/// `PID-RANDOM`, never reused, so a name removed can never be another reader's. A read-only
/// store (a ``ReadOnlyStateStore``, the sidecar) only looks: it never unlinks.
struct ReaderRegistry: Sendable {
    let calls: SystemCalls
    /// The registry directory's path.
    let path: String
    /// Whether dead entries, orphaned records and planted non-files found on the way are removed
    /// (writers and registrants) or only reported (read-only stores).
    let removesDeadEntries: Bool

    /// The registry of `handle`'s store; dead entries are removed when the handle is a writer's,
    /// or when `removesDeadEntries` says so (a reader registering itself).
    init(_ handle: StoreHandle, removesDeadEntries: Bool? = nil) {
        calls = handle.calls
        path = handle.path(handle.files.readersDirectory)
        self.removesDeadEntries = removesDeadEntries ?? handle.forWriting
    }

    static let lockSuffix = ".lock"
    static let recordSuffix = ".json"
    /// The temp file of a record written by a library before the temp name was random.
    static let legacyRecordTempSuffix = ".json.tmp"

    /// What an entry's lock file says of its reader.
    enum Liveness: Equatable {
        /// A reader holds its shared lock.
        case live
        /// Nobody held it: the entry was dead, and was removed if this process may remove it.
        case dead
        /// The lock file is gone, or being removed by another process.
        case gone
        /// Could not be told (the lock file cannot be opened or locked here and the kernel's lock
        /// table does not say, EMFILE…): counted as alive, since nothing proves it dead.
        case unknown(StateStoreError)
        /// Not an entry at all (its "lock file" is a symbolic link, a FIFO, a directory, or is
        /// held only by other users' processes): no reader ever makes one, so it stands for no
        /// reader, never a maybe-alive one. The reason says which.
        case invalid(String)

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

    /// The registry directory, opened without following a link (with `O_DIRECTORY`, a link
    /// answers `ENOTDIR` or `ELOOP`); nil when it does not exist.
    func openDirectory(step: StateStoreError.Step = .listReaders) throws(StateStoreError) -> OwnedDescriptor? {
        do {
            return OwnedDescriptor(try calls.open(SystemCalls.currentDirectory, path, .ownDirectory), calls: calls)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch .tooManySymbolicLinkLevels, .notDirectory {
            guard (try? calls.fstatat(SystemCalls.currentDirectory, path))?.isSymbolicLink == true else {
                throw .system(step, path: path, errno: .notDirectory, stateUnchanged: false)
            }
            throw StateStoreError(
                .symbolicLink, "\(path) is a symbolic link, not the store's reader registry: it is not used.",
                hint: "Remove the link (someone who may write the store's directory planted it); readers register again.",
                step: step, path: path)
        } catch {
            throw .system(step, path: path, errno: error, stateUnchanged: false)
        }
    }

    /// The IDs of the entries with a lock file, and the names of records and temp files whose
    /// entry has no lock file (left by a removal that stopped part-way; removed by
    /// ``sweepOrphans(_:in:)``).
    func entries(in directory: FileDescriptor) throws(StateStoreError) -> (ids: [String], orphans: [String]) {
        let names: [String]
        do { names = try calls.listDirectory(directory) } catch {
            throw .system(.listReaders, path: path, errno: error, stateUnchanged: false)
        }
        let ids = Set(names.compactMap { Self.id(of: $0, suffix: Self.lockSuffix) })
        let orphans = names.filter { name in
            guard let id = Self.recordOwner(of: name) else { return false }
            return !ids.contains(id)
        }
        return (ids.sorted(), orphans)
    }

    /// The ID in an entry file's name, when it has `suffix` and the form `PID-HEX`.
    static func id(of name: String, suffix: String) -> String? {
        guard name.hasSuffix(suffix) else { return nil }
        let id = String(name.dropLast(suffix.count))
        return isID(id) ? id : nil
    }

    /// The ID of the entry a record or record temp file belongs to (`ID.json`,
    /// `ID.json.RANDOM.tmp`, or a library's older `ID.json.tmp`).
    static func recordOwner(of name: String) -> String? {
        if let id = id(of: name, suffix: recordSuffix) ?? id(of: name, suffix: legacyRecordTempSuffix) { return id }
        guard name.hasSuffix(".tmp") else { return nil }
        let parts = name.dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "json", !parts[2].isEmpty, parts[2].utf8.allSatisfy(isHexByte), isID(String(parts[0]))
        else { return nil }
        return String(parts[0])
    }

    /// A fresh temp name for entry `id`'s record: random, so that nobody can plant a file at it
    /// in advance.
    static func recordTempName(for id: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 16)
        return id + recordSuffix + "." + String(repeating: "0", count: 16 - random.count) + random + ".tmp"
    }

    private static func isID(_ id: String) -> Bool {
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy(isHexByte) }
    }

    private static func isHexByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// Removes records and temp files whose entry has no lock file. The lock file is looked for
    /// again first: a listing may miss a name created while it ran, and a record is only ever
    /// written after its lock file exists, which is never re-created once removed.
    func sweepOrphans(_ names: [String], in directory: FileDescriptor) {
        guard removesDeadEntries else { return }
        for name in names {
            guard let id = Self.recordOwner(of: name) else { continue }
            if (try? calls.fstatat(directory, id + Self.lockSuffix)) != nil { continue }
            try? calls.unlink(directory, name, false)
        }
    }

    /// Whether `name` in `directory` still names the file open as `fd` (it may have been removed
    /// and, on ext4, its inode number reused at once: the device and inode are compared while it
    /// is held open).
    func isNamed(_ fd: FileDescriptor, _ name: String, in directory: FileDescriptor) -> Bool {
        guard let open = try? calls.fstat(fd), let named = try? calls.fstatat(directory, name) else { return false }
        return open.isSameFile(as: named)
    }

    /// Removes entry `id`'s files; the caller holds the exclusive lock on its lock file. A temp
    /// file a reader left (it died mid-write; their names are random) is an orphan once the lock
    /// file is gone, removed by the next listing.
    func remove(_ id: String, in directory: FileDescriptor) {
        guard removesDeadEntries else { return }
        try? calls.unlink(directory, id + Self.recordSuffix, false)
        try? calls.unlink(directory, id + Self.legacyRecordTempSuffix, false)
        try? calls.unlink(directory, id + Self.lockSuffix, false)
    }
}
