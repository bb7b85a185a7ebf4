#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The exclusive `flock(2)` on `NAME.lock`, held for a writer's whole read-modify-write.
///
/// The lock belongs to the open file description, so the kernel releases it when the holder
/// dies, however it dies. It is advisory: it excludes every process that follows the protocol,
/// including util-linux `flock(1)` and Python's `fcntl.flock`, and nothing else.
struct WriterLock: ~Copyable {
    private let descriptor: OwnedDescriptor
    private let key: HeldLocks.Key
    private let calls: SystemCalls

    /// Opens the lockfile (never creating it) and takes the lock, waiting up to `timeout`.
    ///
    /// An uncontended lock is taken with `LOCK_NB`; a contended one is waited for by a
    /// ``LockWaiter`` in a blocking `flock`, so that no signal is needed to enforce the timeout.
    /// - Throws: `notFound` when there is no lockfile (no store), `reentrantUpdate` when the
    ///   calling thread already holds this lock, `lockTimeout` naming the holder.
    static func acquire(
        calls: SystemCalls, directory: CInt, lockFile: String, path: String, timeout: Duration
    ) throws(StateStoreError) -> WriterLock {
        let fd: OwnedDescriptor
        do {
            fd = OwnedDescriptor(try calls.open(directory, lockFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0), calls: calls)
        } catch .tooManySymbolicLinkLevels {
            throw StateStoreError(
                .symbolicLink, "\(path) is a symbolic link; the store never follows links.",
                hint: "Replace the link with a regular, empty lockfile.", step: .openLockfile, path: path,
                errno: .tooManySymbolicLinkLevels)
        } catch {
            throw .system(.openLockfile, path: path, errno: error)
        }
        let status: FileStatus
        do { status = try calls.fstat(fd.rawValue) } catch { throw .system(.openLockfile, path: path, errno: error) }
        let key = HeldLocks.Key(device: status.device, inode: status.inode)
        guard !HeldLocks.shared.heldByCurrentThread(key) else {
            throw StateStoreError(
                .reentrantUpdate,
                "An update of the store locked by \(path) was started from inside another update's mutation on this thread.",
                hint: "Return from the mutation first; a mutation must not update its own store.", path: path)
        }
        let holding = try lock(fd, calls: calls, directory: directory, lockFile: lockFile, timeout: timeout, status: status, path: path)
        HeldLocks.shared.register(key)
        return WriterLock(descriptor: holding, key: key, calls: calls)
    }

    /// Returns the descriptor that holds the lock: `fd` itself, or the waiter's own descriptor.
    private static func lock(
        _ fd: OwnedDescriptor, calls: SystemCalls, directory: CInt, lockFile: String, timeout: Duration,
        status: FileStatus, path: String
    ) throws(StateStoreError) -> OwnedDescriptor {
        do {
            try calls.flock(fd.rawValue, LOCK_EX | LOCK_NB)
            return fd
        } catch .wouldBlock {
        } catch {
            throw .system(.lock, path: path, errno: error)
        }
        let waiter: LockWaiter
        do { waiter = try LockWaiter(calls: calls, directory: directory, lockFile: lockFile) } catch {
            throw .system(.lock, path: path, errno: error)
        }
        switch waiter.outcome(within: timeout) {
        case .acquired(let holding): return OwnedDescriptor(holding, calls: calls)
        case .failed(let errno): throw .system(.lock, path: path, errno: errno)
        case .timedOut: throw timeoutError(status: status, path: path, timeout: timeout)
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
        try? calls.flock(descriptor.rawValue, LOCK_UN)
    }
}
