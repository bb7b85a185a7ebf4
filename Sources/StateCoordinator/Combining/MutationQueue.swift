import Glibc
import StateJSON
import SystemPackage

/// A store's queue directory, `NAME.queue`: where writers waiting for the lock publish their
/// mutations and the lock holder takes, commits and answers them (<doc:OnDiskProtocol>,
/// "Combining"). A directory of its own, so that nothing here wakes the store's watchers.
///
/// Every step is one system call on a name inside the directory, and every step that decides
/// something is a `rename`, `link` or `unlink`, atomic against the others: a request is taken
/// by renaming `ID.req` to `ID.B.claim` under the lock, and withdrawn by its publisher's
/// `unlink` of `ID.req` at any time; exactly one of the two succeeds.
struct MutationQueue: @unchecked Sendable {  // its descriptor is used by the commit thread alone
    private let owned: OwnedDescriptor
    let calls: SystemCalls
    /// The directory's path, for messages.
    let path: String

    var descriptor: FileDescriptor { owned.descriptor }

    /// The mode of the queue's files: the store's file mode for owner and group, read and write.
    static func fileMode(_ storeMode: UInt32) -> FilePermissions { FilePermissions(rawValue: CModeT((storeMode & 0o660) | 0o600)) }

    /// The mode of the directory: everything for the owner, and for the group and others where
    /// the store's file mode lets them write (the writers that publish and take requests).
    static func directoryMode(_ storeMode: UInt32) -> FilePermissions {
        var mode: UInt32 = 0o700
        if storeMode & 0o020 != 0 { mode |= 0o070 }
        if storeMode & 0o002 != 0 { mode |= 0o007 }
        return FilePermissions(rawValue: CModeT(mode))
    }

    /// Opens the queue of `store`, whose state file has mode `storeMode`; nil when it has none (no
    /// writer ever combined) and `creating` is false.
    static func open(
        in store: FileDescriptor, name: String, storePath: String, calls: SystemCalls, storeMode: UInt32, storeGroup: UInt32?, creating: Bool
    ) throws(StateStoreError) -> MutationQueue? {
        let path = storePath + "/" + name
        var made = false
        for _ in 0..<2 {
            let fd: FileDescriptor
            do {
                fd = try calls.open(store, name, .ownDirectory)
            } catch .noSuchFileOrDirectory {
                guard creating else { return nil }
                do {
                    try calls.mkdir(store, name, directoryMode(storeMode))
                    made = true
                } catch .fileExists {} catch {
                    throw .system(.queueUpdate, path: path, errno: error)
                }
                continue
            } catch .tooManySymbolicLinkLevels, .notDirectory {
                throw StateStoreError(
                    .symbolicLink, "\(path) is not a directory (a link or a file was put there); the store never follows links.",
                    hint: "Remove it; the next writer that combines updates creates the queue again.", step: .queueUpdate, path: path)
            } catch {
                throw .system(.queueUpdate, path: path, errno: error)
            }
            let queue = MutationQueue(owned: OwnedDescriptor(fd, calls: calls), calls: calls, path: path)
            if made { queue.adopt(storeMode: storeMode, storeGroup: storeGroup) }
            try queue.checkTrusted(store: store, storeMode: storeMode, storeGroup: storeGroup)
            return queue
        }
        return nil
    }

    /// Refuses a queue that someone who may not write the store could have filled: it must
    /// belong to this process's user, the store directory's owner or root, and let no one write
    /// in it beyond the writers the store's mode names (in a sticky directory such as /tmp, anyone
    /// may create `NAME.queue` first, and requests in it would be committed by the store's writers).
    ///
    /// When the group may write, it must be the state file's group: a queue made by a writer
    /// whose primary group holds non-writers (a directory without set-group-ID) is not theirs.
    private func checkTrusted(store: FileDescriptor, storeMode: UInt32, storeGroup: UInt32?) throws(StateStoreError) {
        let status: FileStatus
        let storeOwner: UInt32?
        do {
            status = try calls.fstat(descriptor)
            storeOwner = try? calls.fstat(store).owner
        } catch { throw .system(.queueUpdate, path: path, errno: error) }
        let mode = storeMode
        let trustedOwner = status.owner == ProcessIdentity.effectiveUser || status.owner == 0 || status.owner == storeOwner
        let extraWriters = status.permissions & 0o022 & ~UInt32(Self.directoryMode(mode).rawValue)
        let wrongGroup = status.permissions & 0o020 != 0 && storeGroup.map { $0 != status.group } == true
        guard trustedOwner, extraWriters == 0, !wrongGroup else {
            throw StateStoreError(
                .permissionDenied,
                "\(path) belongs to uid \(status.owner), gid \(status.group), with mode \(String(status.permissions, radix: 8)): someone who may not write the store could have put requests in it; combining is off.",
                hint: "Remove it; the next writer that combines creates it again, owned by the store's writers.", step: .queueUpdate, path: path)
        }
    }

    /// Gives a directory this writer just made (the queue, or an answers directory) its mode
    /// exactly (mkdir applied the umask), the set-group-ID bit a setgid parent passed on, and the
    /// state file's group when the group may write; without that group, no group access at all.
    func adopt(storeMode: UInt32, storeGroup: UInt32?, directory: FileDescriptor? = nil) {
        let fd = directory ?? descriptor
        guard let status = try? calls.fstat(fd) else { return }
        var mode = UInt32(Self.directoryMode(storeMode).rawValue)
        if mode & 0o070 != 0, let storeGroup, status.group != storeGroup {
            if (try? calls.fchown(fd, status.owner, storeGroup)) == nil { mode &= ~0o070 }
        }
        try? calls.fchmod(fd, FilePermissions(rawValue: CModeT(mode | (status.mode & UInt32(FilePermissions.setGroupID.rawValue)))))
    }

    // MARK: publishing (a waiting writer, without the lock)

    /// Publishes `request`: written under `ID.tmp`, then renamed to `ID.req`, so a holder never
    /// reads half a request.
    func publish(_ request: QueuedRequest, storeMode: UInt32) throws(StateStoreError) {
        let temp = QueueEntry.temp(request.id).name
        do {
            let fd = OwnedDescriptor(try calls.open(descriptor, temp, .createForWriting(Self.fileMode(storeMode))), calls: calls)
            try calls.write(fd.descriptor, all: request.bytes)
            try fd.close()
            try calls.rename(descriptor, temp, QueueEntry.request(request.id).name)
        } catch {
            try? calls.unlink(descriptor, temp, false)
            throw .system(.queueUpdate, path: path + "/" + temp, errno: error)
        }
    }

    /// Withdraws a published request: true if it was still waiting (now it never will be
    /// committed), false if a holder took it (it will be answered).
    func withdraw(_ id: String) -> Bool {
        do {
            try calls.unlink(descriptor, QueueEntry.request(id).name, false)
            return true
        } catch {
            return false
        }
    }

    /// The directory of the answers to the requests of the process that published `id`, opened;
    /// created when missing and `creating` (by the publisher before it publishes, by a holder
    /// answering a publisher whose directory was swept). Never a link.
    func answers(for id: String, creating: Bool) -> OwnedDescriptor? {
        let name = QueueEntry.answersDirectory(ofID: id)
        if let fd = try? calls.open(descriptor, name, .ownDirectory) { return OwnedDescriptor(fd, calls: calls) }
        guard creating, let queue = try? calls.fstat(descriptor) else { return nil }
        var made = false
        do {
            try calls.mkdir(descriptor, name, FilePermissions(rawValue: CModeT(queue.permissions & 0o770)))
            made = true
        } catch .fileExists {} catch { return nil }
        guard let fd = try? calls.open(descriptor, name, .ownDirectory) else { return nil }
        let answers = OwnedDescriptor(fd, calls: calls)
        // The holders (the writers' group) must be able to answer here; nobody else.
        if made { adopt(storeMode: queue.permissions & 0o660, storeGroup: queue.group, directory: answers.descriptor) }
        return answers
    }

    /// The answer to request `id` in its answers directory, if there is one: the version that
    /// includes it, or why not.
    func answer(for id: String, in answers: FileDescriptor) -> Result<StateSnapshot<JSONValue>, any Error>? {
        let done = QueueEntry.done(id).name
        let path = self.path + "/" + QueueEntry.answersDirectory(ofID: id) + "/" + done
        do {
            let file = try StateFileReader(calls: calls).read(directory: answers, name: done, path: path)
            return .success(try file.snapshot(as: JSONValue.self, path: path))
        } catch where error.code == .notFound {
        } catch {
            var committed = error
            committed.message = "Another process committed this update, but the version it linked as the answer could not be read: \(error.message)"
            committed.outcome = .committedDurabilityUnknown
            committed.hint = "Do not retry it; read the current state (statectl get)."
            return .failure(committed)
        }
        let failed = QueueEntry.failed(id).name
        guard let bytes = read(failed, in: answers, limit: 1 << 20) else { return nil }
        return .failure(QueueAnswer(bytes: bytes, path: path).error(path: self.path))
    }

    /// Removes the answer to `id` once its publisher has read it.
    func collect(_ id: String, in answers: FileDescriptor) {
        try? calls.unlink(answers, QueueEntry.done(id).name, false)
        try? calls.unlink(answers, QueueEntry.failed(id).name, false)
    }

    /// Whether request `id` has an answer (looked at by a holder settling a claim).
    func isAnswered(_ id: String) -> Bool {
        guard let answers = answers(for: id, creating: false) else { return false }
        return (try? calls.fstatat(answers.descriptor, QueueEntry.done(id).name)) != nil
            || (try? calls.fstatat(answers.descriptor, QueueEntry.failed(id).name)) != nil
    }

    // MARK: the lock holder's side

    /// The queue's entries, in publishing order.
    func entries() throws(StateStoreError) -> [QueueEntry] {
        do {
            return try calls.listDirectory(descriptor).compactMap(QueueEntry.init(name:)).sorted { $0.name < $1.name }
        } catch {
            throw .system(.queueUpdate, path: path, errno: error)
        }
    }

    /// Takes request `id` for a commit on version `base`: renamed to `ID.B.claim`, then read.
    /// Nil when its publisher withdrew it first; a failure when it cannot be read as a request.
    func claim(_ id: String, base: UInt64, limit: Int) -> Result<QueuedRequest, StateMutationError>? {
        let claim = QueueEntry.claim(id, base: base).name
        do { try calls.rename(descriptor, QueueEntry.request(id).name, claim) } catch { return nil }
        guard let bytes = read(claim, limit: limit) else {
            return .failure(StateMutationError(.malformed, "the request could not be read (not a regular file, or over \(limit) bytes)"))
        }
        return Result { () throws(StateMutationError) in try QueuedRequest(bytes: bytes, id: id) }
    }

    /// Puts a claim that was not committed back in the queue, for the next holder.
    func unclaim(_ id: String, base: UInt64) {
        try? calls.rename(descriptor, QueueEntry.claim(id, base: base).name, QueueEntry.request(id).name)
    }

    /// Answers a claimed request as committed: `ID.done` becomes a link to the store's state
    /// file (the version that includes it; the lock is held, so nobody replaces it meanwhile),
    /// then the claim goes.
    ///
    /// The claim is first renamed `ID.B.answering` (``beginAnswering(_:base:)``): a holder that
    /// dies after its waiter collected the answer leaves a marker the next holder never queues
    /// again.
    func answerCommitted(_ id: String, base: UInt64, store: FileDescriptor, stateFile: String) {
        guard let answers = answers(for: id, creating: true) else {
            // Nowhere to answer (a full disk, a planted file): left claimed, for the next holder.
            return
        }
        guard beginAnswering(id, base: base) else { return }
        linkDone(id, base: base, answers: answers.descriptor, store: store, stateFile: stateFile)
    }

    /// Links the answer of a request being answered (`ID.B.answering`), then removes the marker.
    func linkDone(_ id: String, base: UInt64, answers: FileDescriptor, store: FileDescriptor, stateFile: String) {
        do { try calls.link(store, stateFile, answers, QueueEntry.done(id).name) } catch .fileExists {} catch {
            // Without its link the waiter would never learn it was committed: say so in words.
            writeFailed(id, answers: answers, .unknown("it was committed, but its answer could not be linked (\(error.symbolicName))"))
        }
        try? calls.unlink(descriptor, QueueEntry.answering(id, base: base).name, false)
    }

    /// Renames the claim `ID.B.claim` to `ID.B.answering`; false when it is gone (another holder
    /// settled it: then it answers, not this one).
    func beginAnswering(_ id: String, base: UInt64) -> Bool {
        (try? calls.rename(descriptor, QueueEntry.claim(id, base: base).name, QueueEntry.answering(id, base: base).name)) != nil
    }

    /// Answers a request as not committed (or unknown): `ID.failed`, written under a temp name
    /// and renamed; then the claim (if any) goes.
    func answer(_ id: String, base: UInt64?, with answer: QueueAnswer) {
        guard let answers = answers(for: id, creating: true) else { return }
        if let base {
            guard beginAnswering(id, base: base) else { return }
        }
        writeFailed(id, answers: answers.descriptor, answer)
        if let base { try? calls.unlink(descriptor, QueueEntry.answering(id, base: base).name, false) }
    }

    /// Writes `ID.failed` in the answers directory: under a temp name, renamed.
    private func writeFailed(_ id: String, answers: FileDescriptor, _ answer: QueueAnswer) {
        let temp = QueueEntry.failedTemp(id).name
        // A new file only: whatever sits at the temp name (a holder that died here, or a link planted there) goes first.
        try? calls.unlink(answers, temp, false)
        do {
            let fd = OwnedDescriptor(try calls.open(answers, temp, .createForWriting(Self.fileMode(0o660))), calls: calls)
            try calls.write(fd.descriptor, all: answer.bytes)
            try fd.close()
            try calls.rename(answers, temp, QueueEntry.failed(id).name)
        } catch {
            try? calls.unlink(answers, temp, false)
        }
    }

    /// Empties the queue of a store being re-created by force (with its lock held): what waits
    /// is answered as never committed, what a holder that died had taken as unknown (it may be
    /// in the store that is gone); none of it is ever applied to the new store.
    func dropAll() {
        guard let entries = try? entries() else { return }
        for entry in entries {
            switch entry {
            case .request(let id):
                guard withdraw(id) else { continue }
                answer(id, base: nil, with: .refused(StateStoreError(
                    .notFound, "The store was re-created (init --force) while this update waited; it was not committed.",
                    hint: "Apply it again to the new store if it still holds.", outcome: .notCommitted)))
            case .claim(let id, _), .answering(let id, _):
                if !isAnswered(id) { answer(id, base: nil, with: .unknown("the store was re-created (init --force) after a holder that died took it")) }
                try? calls.unlink(descriptor, entry.name, false)
            case .temp, .done, .failed, .failedTemp, .answers:
                continue
            }
        }
    }

    /// Removes what publishers that are gone left: their temp files and their answers
    /// directories with the answers nobody will collect. A process's entries are its own while it
    /// lives (its ID names it).
    func sweep(_ entries: [QueueEntry]) {
        for entry in entries {
            switch entry {
            case .temp:
                guard let pid = QueueEntry.publisher(ofID: entry.id), pid != getpid(), !Self.isAlive(pid) else { continue }
                try? calls.unlink(descriptor, entry.name, false)
            case .answers(let process):
                guard let pid = QueueEntry.publisher(ofID: process), pid != getpid(), !Self.isAlive(pid),
                    let fd = try? calls.open(descriptor, entry.name, .ownDirectory)
                else { continue }
                let answers = OwnedDescriptor(fd, calls: calls)
                for name in (try? calls.listDirectory(answers.descriptor)) ?? [] { try? calls.unlink(answers.descriptor, name, false) }
                try? calls.unlink(descriptor, entry.name, true)
            case .request, .claim, .answering, .done, .failed, .failedTemp:
                continue
            }
        }
    }

    /// Whether a process with this ID exists (a reused ID keeps its entries a while longer, which
    /// is safe; a process of another PID namespace looks gone, and its answer is then lost to it:
    /// it reports the outcome unknown, never a wrong one).
    private static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Reads a whole regular file of the queue (or of `directory`), at most `limit` bytes; nil if it cannot.
    private func read(_ name: String, in directory: FileDescriptor? = nil, limit: Int) -> [UInt8]? {
        guard let fd = try? calls.open(directory ?? descriptor, name, .readExisting) else { return nil }
        let owned = OwnedDescriptor(fd, calls: calls)
        guard let status = try? calls.fstat(owned.descriptor), status.isRegularFile, status.size <= Int64(limit) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(status.size))
        do { try calls.read(owned.descriptor, into: &bytes, upTo: limit + 1, expectedEnd: Int(status.size)) } catch { return nil }
        return bytes.count <= limit ? bytes : nil
    }
}
