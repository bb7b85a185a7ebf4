import SystemPackage

/// The exclusive `flock(2)` on `NAME.lock`, held for a writer's whole read-modify-write.
///
/// The lock belongs to the open file description, so the kernel releases it when the holder
/// dies, however it dies. It is advisory: it excludes every process that follows the protocol,
/// including util-linux `flock(1)` and Python's `fcntl.flock`, and nothing else.
struct WriterLock: ~Copyable {
    /// How often a lock taken on a lockfile that was then replaced is given up and taken anew
    /// before the commit fails.
    private static let replacedAttempts = 16

    private let descriptor: OwnedDescriptor
    private let key: HeldLocks.Key
    private let calls: SystemCalls
    private let directory: FileDescriptor
    private let lockFile: String
    private let path: String

    /// Opens the lockfile (never creating it) and takes the lock, waiting up to `timeout`.
    ///
    /// An uncontended lock is taken with `LOCK_NB`; a contended one is waited for by the
    /// lockfile's ``LockWaiter``, so that no signal is needed to enforce the timeout. Once
    /// locked, the lockfile must still be the file named `lockFile` (an operator may have deleted
    /// it, or `init --force` made a new one, while we waited on the old inode): otherwise the lock
    /// excludes nobody, so it is dropped and taken again on the new file.
    /// - Parameter directory: the store directory, open for as long as the lock is held.
    /// - Throws: `notFound` when there is no lockfile (no store), `unverifiable` when it is not a
    ///   regular file (a FIFO planted there is opened without blocking and refused),
    ///   `reentrantUpdate` when the calling thread already holds this lock, `lockTimeout` naming
    ///   the holder.
    static func acquire(
        calls: SystemCalls, directory: FileDescriptor, lockFile: String, path: String, timeout: Duration
    ) throws(StateStoreError) -> WriterLock {
        // Without an interruption and with waiting allowed, only a timeout or an error ends the wait.
        try acquire(calls: calls, directory: directory, lockFile: lockFile, path: path, timeout: timeout, waiting: true, interruption: nil)!
    }

    /// ``acquire(calls:directory:lockFile:path:timeout:)``, or nil: without `waiting`, when the
    /// lock is held by another (`LOCK_NB` only); with an `interruption`, when it ended the wait.
    /// - Parameter deadline: when the wait ends, for a caller that waited part of `timeout`
    ///   already (the error still names `timeout`); default: `timeout` from now.
    static func acquire(
        calls: SystemCalls, directory: FileDescriptor, lockFile: String, path: String, timeout: Duration, waiting: Bool,
        interruption: LockWaitInterruption?, until deadline: ContinuousClock.Instant? = nil
    ) throws(StateStoreError) -> WriterLock? {
        let deadline = deadline ?? ContinuousClock.now.advanced(by: .nanoseconds(timeout.saturatingNanoseconds))
        for _ in 0..<replacedAttempts {
            let (fd, status) = try open(calls: calls, directory: directory, lockFile: lockFile, path: path)
            let key = status.identity
            guard !HeldLocks.shared.heldByCurrentThread(key) else {
                throw StateStoreError(
                    .reentrantUpdate,
                    "An update of the store locked by \(path) was started from inside another update's mutation on this thread.",
                    hint: "Return from the mutation first; a mutation must not update its own store.", path: path)
            }
            let holding: OwnedDescriptor
            switch try lock(
                fd, key: key, calls: calls, directory: directory, lockFile: lockFile, deadline: deadline, timeout: timeout, status: status,
                path: path, waiting: waiting, interruption: interruption)
            {
            case .locked(let descriptor): holding = descriptor
            case .replaced: continue
            case .notLocked: return nil
            }
            let named = try? calls.fstatat(directory, lockFile)
            guard let named, named.identity == key else {
                try? calls.flock(holding.descriptor, .unlock)
                continue
            }
            HeldLocks.shared.register(key)
            return WriterLock(descriptor: holding, key: key, calls: calls, directory: directory, lockFile: lockFile, path: path)
        }
        throw StateStoreError(
            .lockLost, "\(path) was replaced \(replacedAttempts) times while this writer was taking its lock; nothing was committed.",
            hint: "Find what keeps deleting or re-creating the lockfile; it must never be replaced while writers run.",
            step: .lock, path: path)
    }

    private static func open(
        calls: SystemCalls, directory: FileDescriptor, lockFile: String, path: String
    ) throws(StateStoreError) -> (OwnedDescriptor, FileStatus) {
        let fd: OwnedDescriptor
        do {
            // O_NONBLOCK: a FIFO planted at the name would otherwise block the open, and with it
            // every commit of this process, until something opened it for writing.
            fd = OwnedDescriptor(
                try calls.open(directory, lockFile, .readExisting), calls: calls)
        } catch .tooManySymbolicLinkLevels {
            throw StateStoreError(
                .symbolicLink, "\(path) is a symbolic link; the store never follows links.",
                hint: "Replace the link with a regular, empty lockfile.", step: .openLockfile, path: path,
                errno: .tooManySymbolicLinkLevels)
        } catch {
            throw .system(.openLockfile, path: path, errno: error)
        }
        let status: FileStatus
        do { status = try calls.fstat(fd.descriptor) } catch { throw .system(.openLockfile, path: path, errno: error) }
        guard status.isRegularFile else {
            throw StateStoreError(
                .unverifiable, "\(path) is not a regular file; nothing was committed.",
                hint: "Replace it with a regular, empty lockfile (statectl init --force re-creates one).",
                step: .openLockfile, path: path)
        }
        return (fd, status)
    }

    /// What one attempt at the lock gave.
    private enum Attempt {
        /// The descriptor that holds the lock: `fd` itself, or the waiter's own descriptor.
        case locked(OwnedDescriptor)
        /// The waiter found the lockfile replaced.
        case replaced
        /// Not waiting, and the lock is held; or the wait was interrupted.
        case notLocked
    }

    private static func lock(
        _ fd: OwnedDescriptor, key: HeldLocks.Key, calls: SystemCalls, directory: FileDescriptor, lockFile: String,
        deadline: ContinuousClock.Instant, timeout: Duration, status: FileStatus, path: String, waiting: Bool,
        interruption: LockWaitInterruption?
    ) throws(StateStoreError) -> Attempt {
        do {
            try calls.flock(fd.descriptor, .exclusiveNow)
            return .locked(fd)
        } catch .wouldBlock {
            guard waiting else { return .notLocked }
        } catch {
            throw .system(.lock, path: path, errno: error)
        }
        switch LockWaiter.wait(for: key, calls: calls, directory: directory, lockFile: lockFile, until: deadline, interruption: interruption) {
        case .acquired(let holding): return .locked(OwnedDescriptor(holding, calls: calls))
        case .replaced: return .replaced
        case .interrupted: return .notLocked
        case .failed(let errno): throw .system(.lock, path: path, errno: errno)
        case .timedOut: throw timeoutError(status: status, path: path, timeout: timeout)
        }
    }

    /// Throws `lockLost` unless the lockfile is still the file this lock is on. Checked just
    /// before the rename: if the lockfile was replaced while we held the lock, another writer may
    /// hold the new one, and committing now could lose its update.
    func checkStillNamed() throws(StateStoreError) {
        let named: FileStatus?
        do { named = try calls.fstatat(directory, lockFile) } catch .noSuchFileOrDirectory { named = nil } catch {
            throw .system(.checkLock, path: path, errno: error)
        }
        guard let named, named.identity == key else {
            throw StateStoreError(
                .lockLost,
                "\(path) was \(named == nil ? "deleted" : "replaced") while this writer held the lock on it; nothing was committed.",
                hint: "Retry; and find what deleted or re-created the lockfile (it must never be replaced while writers run).",
                step: .checkLock, path: path)
        }
    }

    private static func timeoutError(status: FileStatus, path: String, timeout: Duration) -> StateStoreError {
        let holder = LockHolder.find(device: status.device, inode: status.inode)
        let who = holder.map { "it is held by \($0)" } ?? "its holder could not be found in /proc/locks"
        return StateStoreError(
            .lockTimeout, "Timed out after \(timeout) waiting for the writer lock \(path): \(who).",
            hint: "If that process is stuck, stop it (the kernel releases its lock when it exits); otherwise retry or raise the lock timeout.",
            step: .lock, path: path, lockHolder: holder)
    }

    /// The device and inode of the locked file.
    var identity: HeldLocks.Key { key }

    /// Releases the lock and closes the lockfile; dropping the lock on an error path does the same.
    consuming func release() {}

    deinit {
        HeldLocks.shared.unregister(key)
        // Closing the last descriptor releases the lock too, should LOCK_UN fail.
        try? calls.flock(descriptor.descriptor, .unlock)
    }
}
