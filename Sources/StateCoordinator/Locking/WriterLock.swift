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
    /// First pause between two non-blocking attempts; pauses double up to ``maximumPause``.
    static let firstPause: Duration = .microseconds(50)
    /// Longest pause between attempts: bounds the extra latency of a hand-over.
    static let maximumPause: Duration = .milliseconds(1)

    private let descriptor: OwnedDescriptor
    private let key: HeldLocks.Key
    private let calls: SystemCalls

    /// Opens the lockfile (never creating it) and takes the lock, waiting up to `timeout`.
    ///
    /// Waiting polls with `LOCK_NB` so that the timeout is exact and no signal is needed to
    /// interrupt a blocked `flock`.
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
        try waitForLock(fd, calls: calls, timeout: timeout, status: status, path: path)
        HeldLocks.shared.register(key)
        return WriterLock(descriptor: fd, key: key, calls: calls)
    }

    private static func waitForLock(
        _ fd: OwnedDescriptor, calls: SystemCalls, timeout: Duration, status: FileStatus, path: String
    ) throws(StateStoreError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = firstPause
        while true {
            do {
                try calls.flock(fd.rawValue, LOCK_EX | LOCK_NB)
                return
            } catch .wouldBlock {
                guard clock.now < deadline else {
                    throw timeoutError(status: status, path: path, timeout: timeout)
                }
                // This runs on the store's own commit thread, never on the cooperative pool.
                let (seconds, attoseconds) = pause.components
                usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
                pause = min(pause * 2, maximumPause)
            } catch {
                throw .system(.lock, path: path, errno: error)
            }
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
