import Metrics
import SystemPackage

/// A new file being made beside the file it will replace, in renameio's shape:
/// ``create(in:prefix:attributes:synchronizingAfterClose:)``, ``write(_:)``, ``synchronize(timer:)``,
/// ``close()``, then ``replace(_:durability:timer:)``, each a step the caller takes in order (a
/// commit checks its lock and links the outgoing version into history before the replace). Until
/// the replace nothing visible changes; after it, whoever opens the target's name sees the whole
/// new file.
///
/// The file may be closed before it is fsynced: created with `synchronizingAfterClose`, it also
/// holds a read-only descriptor opened before anything is written (Linux reports a writeback
/// error to every descriptor of the file opened before it happened), through which
/// ``synchronize(timer:)`` fsyncs it after ``close()``. A commit does so: the close tells watchers
/// (`IN_CLOSE_WRITE`) that the file is complete, and they read it during the fsync (see
/// `Tools/bench/README.md` for what that is worth). Readers never depend on it.
///
/// Dropping it removes the temp file unless its name no longer holds it (it was renamed over the
/// target), so every error path cleans up; after a replace that keeps the old file
/// (``replace(_:keeping:durability:)``) the temp name is a second link of the new file, dropped too.
struct PendingFile: ~Copyable {
    /// How often to draw a new temp name when one exists already (only a planted file can collide).
    private static let nameAttempts = 8

    /// The ownership and permission bits to give the new file.
    struct Attributes {
        var mode: UInt32
        /// Owner and group to set with `fchown`, only when running as root.
        var owner: (user: UInt32, group: UInt32)?
    }

    private let directory: TargetDirectory
    /// The temp file's name in the directory.
    let name: String
    /// The temp file's device and inode: the target is the new file exactly if it is this one.
    let identity: FileIdentity
    /// Open for writing until ``close()``.
    private let descriptor: OwnedDescriptor
    /// Read-only, opened before the first write, for an fsync after ``close()``; closed by it.
    private let syncDescriptor: OwnedDescriptor?
    /// Set by ``replace(_:durability:timer:)`` once the rename moved the file away from its temp
    /// name: then there is nothing left to remove.
    private let renamed = RenameRecord()

    /// Whether the file was renamed over its target.
    private final class RenameRecord {
        var done = false
    }

    private init(
        directory: TargetDirectory, name: String, identity: FileIdentity, descriptor: OwnedDescriptor, syncDescriptor: OwnedDescriptor?
    ) {
        self.directory = directory
        self.name = name
        self.identity = identity
        self.descriptor = descriptor
        self.syncDescriptor = syncDescriptor
    }

    /// The directory a pending file is made in, and how to reach it.
    struct TargetDirectory {
        let calls: SystemCalls
        let descriptor: FileDescriptor
        /// Its path, for messages.
        let path: String

        func path(_ name: String) -> String { path + "/" + name }
    }

    /// Creates a temp file named with `prefix` and a random suffix (`O_EXCL`), with `attributes`.
    /// It is created with the final mode as the umask lets it, plus owner-read (the read-only
    /// reopen for the fsync after close needs it; only the owner gains it, and only until the
    /// `fchmod`), then `fchmod`ed only if its mode differs from the final one (the umask took bits,
    /// owner-read was added, or the mode has setuid, setgid or sticky bits), and `fchown`ed only if
    /// its owner differs: a commit makes one system call instead of three for what is nearly
    /// always right already.
    ///
    /// - Parameter synchronizingAfterClose: also open the read-only descriptor that
    ///   ``synchronize(timer:)`` uses once the file is closed. It is opened through
    ///   `/proc/self/fd/N` of the descriptor that created the file, never by name: in a directory
    ///   others may write, the name could be swapped (for a FIFO that blocks the open, or another
    ///   file) in between. Without `/proc`, the file is fsynced before its close instead.
    static func create(
        in directory: TargetDirectory, prefix: String, attributes: Attributes, synchronizingAfterClose: Bool = false
    ) throws(StateStoreError) -> PendingFile {
        let calls = directory.calls
        var attempt = 0
        while true {
            let name = TempFileName.make(prefix: prefix)
            let fd: OwnedDescriptor
            do {
                fd = OwnedDescriptor(
                    try calls.open(directory.descriptor, name, .createForWriting(FilePermissions(rawValue: attributes.mode & 0o777 | 0o400))),
                    calls: calls)
            } catch .fileExists where attempt < nameAttempts {
                attempt += 1
                continue
            } catch {
                throw .system(.createTemp, path: directory.path(name), errno: error)
            }
            let status: FileStatus
            do { status = try calls.fstat(fd.descriptor) } catch {
                try? calls.unlink(directory.descriptor, name, false)
                throw .system(.createTemp, path: directory.path(name), errno: error)
            }
            let syncDescriptor: OwnedDescriptor?
            do { syncDescriptor = synchronizingAfterClose ? try reopenedForSync(fd, calls: calls) : nil } catch {
                try? calls.unlink(directory.descriptor, name, false)
                throw .system(.createTemp, path: directory.path(name), errno: error)
            }
            let file = PendingFile(
                directory: directory, name: name, identity: status.identity, descriptor: fd, syncDescriptor: syncDescriptor)
            try file.setAttributes(attributes, created: status)
            return file
        }
    }

    /// A read-only descriptor of the file open as `fd`, through `/proc/self/fd`; nil when it
    /// cannot be had (no `/proc`, a security policy): the file is then fsynced before its close,
    /// just as durably. Out of descriptors, the commit fails.
    private static func reopenedForSync(_ fd: OwnedDescriptor, calls: SystemCalls) throws(Errno) -> OwnedDescriptor? {
        do {
            return OwnedDescriptor(
                try calls.open(SystemCalls.currentDirectory, "/proc/self/fd/\(fd.descriptor.rawValue)", .readFollowingLinks), calls: calls)
        } catch .tooManyOpenFiles {
            throw .tooManyOpenFiles
        } catch .tooManyOpenFilesInSystem {
            throw .tooManyOpenFilesInSystem
        } catch {
            return nil
        }
    }

    /// Whether ``synchronize(timer:)`` may come after ``close()`` (a descriptor for it is held).
    var synchronizesAfterClose: Bool { syncDescriptor != nil }

    /// The new file must have exactly the mode of the one it replaces, which the open mode alone
    /// does not promise (the umask filters it): `fchmod` when the created file's mode differs.
    private func setAttributes(_ attributes: Attributes, created: FileStatus) throws(StateStoreError) {
        do {
            if created.permissions != attributes.mode {
                try directory.calls.fchmod(descriptor.descriptor, FilePermissions(rawValue: attributes.mode))
            }
            if let owner = attributes.owner, owner.user != created.owner || owner.group != created.group {
                try directory.calls.fchown(descriptor.descriptor, owner.user, owner.group)
            }
        } catch { throw .system(.setPermissions, path: directory.path(name), errno: error) }
    }

    /// Writes every byte (`write(2)`, short writes continued).
    func write(_ bytes: [UInt8]) throws(StateStoreError) {
        do { try directory.calls.write(descriptor.descriptor, all: bytes) } catch {
            throw .system(.write, path: directory.path(name), errno: error)
        }
    }

    /// Writes `head`, then `body` (a state file's header line and its state bytes), without
    /// copying a large body.
    func write(_ head: [UInt8], then body: [UInt8]) throws(StateStoreError) {
        do { try directory.calls.write(descriptor.descriptor, all: head, then: body) } catch {
            throw .system(.write, path: directory.path(name), errno: error)
        }
    }

    /// Makes the written bytes durable (`fsync(2)`), before anything names the file: a rename of a
    /// file whose data is still in the page cache can leave an empty state file after a power loss.
    /// Through the descriptor kept for it when the file was created so (then closed: a descriptor
    /// kept open on a file that is later replaced costs ext4 two journalled orphan-list updates),
    /// else through the written one, which must not be closed yet.
    func synchronize(timer: Timer? = nil) throws(StateStoreError) {
        // A descriptor closed already is never fsynced: its number may name another file by now.
        guard let open = [syncDescriptor, descriptor].compactMap({ $0 }).first(where: { !$0.isClosed }) else {
            throw .system(.syncFile, path: directory.path(name), errno: .badFileDescriptor)
        }
        let fd = open.descriptor
        do {
            if let timer { try timer.measure { () throws(Errno) in try directory.calls.fsync(fd) } }
            else { try directory.calls.fsync(fd) }
            try syncDescriptor?.close()
        } catch { throw .system(.syncFile, path: directory.path(name), errno: error) }
    }

    /// Closes the file. A deferred write error (NFS, quota) can surface only here: it is a failed
    /// write. The close is also what tells watchers (`IN_CLOSE_WRITE`) that the file is complete.
    func close() throws(StateStoreError) {
        do { try descriptor.close() } catch { throw .system(.write, path: directory.path(name), errno: error) }
    }

    /// Renames the file over `target` (`renameat(2)`), then, for ``Durability/full``, fsyncs the
    /// directory so that the rename survives a power loss.
    ///
    /// - Throws: a ``StateStoreError`` naming the step, path and errno. Before the rename the
    ///   target is untouched. After a failed rename or directory fsync the target is looked at,
    ///   and the error's ``StateStoreError/outcome`` says whether the new file took its place.
    @discardableResult
    func replace(_ target: String, durability: Durability, timer: Timer? = nil) throws(StateStoreError) -> FileStatus {
        try checkStillNamed()
        do { try directory.calls.rename(directory.descriptor, name, target) } catch {
            throw failedRename(target: target, errno: error)
        }
        let status = try checkRenamedIn(target)
        renamed.done = true
        guard durability == .full else { return status }
        do {
            if let timer { try timer.measure { () throws(Errno) in try directory.calls.fsync(directory.descriptor) } }
            else { try directory.calls.fsync(directory.descriptor) }
        } catch {
            throw StateStoreError.system(.syncDirectory, path: directory.path, errno: error, stateUnchanged: false)
                .with(outcome: .committedDurabilityUnknown)
        }
        return status
    }

    /// Like ``replace(_:durability:timer:)``, but the file replaced is kept, whole, under `keep`:
    /// the new file is first given the name `keep` (a link, never over an existing file), then
    /// swapped with `target` in one `renameat2(RENAME_EXCHANGE)`, so that whatever `target` held at
    /// that instant (even a file a foreign writer put there a moment before) ends up under `keep`.
    /// A crash before the swap leaves `keep` holding the new file and `target` untouched. Returns
    /// the status of the file now kept.
    func replace(_ target: String, keeping keep: String, durability: Durability) throws(StateStoreError) -> FileStatus {
        let calls = directory.calls
        let dir = directory.descriptor
        try checkStillNamed()
        do { try calls.link(dir, name, dir, keep) } catch { throw .system(.rename, path: directory.path(name) + " -> " + directory.path(keep), errno: error) }
        do { try calls.exchange(dir, keep, target) } catch {
            // An exchange that reported an error may still have taken effect: `keep` is removed only
            // while it is still the new file, never the one it may now be keeping.
            guard let kept = try? calls.fstatat(dir, keep), kept.identity == identity else {
                throw StateStoreError.system(
                    .rename, path: directory.path(keep) + " <-> " + directory.path(target), errno: error, stateUnchanged: false
                ).with(outcome: .unknown)
            }
            try? calls.unlink(dir, keep, false)
            throw .system(.rename, path: directory.path(keep) + " <-> " + directory.path(target), errno: error)
        }
        try checkRenamedIn(target)
        let kept: FileStatus
        do { kept = try calls.fstatat(dir, keep) } catch {
            throw .system(.rename, path: directory.path(keep), errno: error, stateUnchanged: false)
        }
        guard durability == .full else { return kept }
        do { try calls.fsync(dir) } catch {
            throw StateStoreError.system(.syncDirectory, path: directory.path, errno: error, stateUnchanged: false)
                .with(outcome: .committedDurabilityUnknown)
        }
        return kept
    }

    /// A rename that reported an error may still have taken effect (seen under a crashing file
    /// system): what `target` is now says, and the error says so.
    private func failedRename(target: String, errno: Errno) -> StateStoreError {
        let outcome: CommitOutcome
        switch Result(catching: { () throws(Errno) in try directory.calls.fstatat(directory.descriptor, target) }) {
        case .success(let now) where now.identity == identity: outcome = .committedDurabilityUnknown
        case .success, .failure(.noSuchFileOrDirectory): outcome = .notCommitted
        case .failure: outcome = .unknown
        }
        return StateStoreError.system(
            .rename, path: directory.path(name) + " -> " + directory.path(target), errno: errno, stateUnchanged: outcome == .notCommitted
        ).with(outcome: outcome)
    }

    /// After the rename: the target must be the file written. A swap between the last check and
    /// the rename (in a directory others may write) would otherwise leave another file in the
    /// target's place unnoticed; the error says the outcome is unknown, so the caller reads first.
    /// Returns the target's status (the new file's, just renamed).
    @discardableResult
    private func checkRenamedIn(_ target: String) throws(StateStoreError) -> FileStatus {
        guard let now = try? directory.calls.fstatat(directory.descriptor, target), now.identity == identity else {
            throw StateStoreError(
                .ioFailure,
                "\(directory.path(target)) is not the file just written after its rename (someone who may write \(directory.path) swapped it).",
                hint: "Read the current version before anything else; only the store's writers should be able to write its directory.",
                path: directory.path(target), outcome: .unknown)
        }
        return now
    }

    /// Refuses to rename a temp file whose name no longer names the file written: in a directory
    /// others may write, it could have been swapped for a FIFO or a file of theirs, which the
    /// rename would make the target.
    private func checkStillNamed() throws(StateStoreError) {
        let named: FileStatus
        do { named = try directory.calls.fstatat(directory.descriptor, name) } catch {
            throw .system(.createTemp, path: directory.path(name), errno: error)
        }
        guard named.identity == identity else {
            throw StateStoreError(
                .ioFailure,
                "\(directory.path(name)) was replaced by another file while it was being written (someone who may write \(directory.path) swapped it); nothing was committed.",
                hint: "Only the store's writers should be able to write its directory: check its owner and mode.", path: directory.path(name))
        }
    }

    /// Removes the temp name while it still holds this file: after a failure (the rename did not
    /// take effect, or the name would still be gone), or after a replace that kept the old file.
    deinit {
        // Renamed over its target: the temp name is gone (a file there now is someone else's).
        if renamed.done { return }
        if let named = try? directory.calls.fstatat(directory.descriptor, name), named.identity == identity {
            try? directory.calls.unlink(directory.descriptor, name, false)
        }
    }
}
