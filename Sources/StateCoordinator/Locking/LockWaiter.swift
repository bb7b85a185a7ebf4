import Foundation
import Synchronization
import SystemPackage

/// Waits for a contended writer lock in a blocking `flock(LOCK_EX)` on a thread of its own, so
/// the lock is taken the moment its holder releases it, while committing threads wait with a
/// timeout. (Polling with `LOCK_NB` would leave the lock idle between polls and starve waiters
/// that poll less often.)
///
/// **One parked waiter per lockfile.** A wait that times out leaves its waiter parked in
/// `flock` (a blocked `flock` cannot be cancelled without a signal), and later attempts on the
/// same lockfile adopt it instead of starting another: against a stalled holder (SIGSTOP), a
/// bot that retries keeps one thread and one descriptor waiting, however often it times out.
/// The waiter's descriptor is its own open file description: when it gets the lock it hands it
/// to a caller that is waiting, or, if none is, releases and closes it at once.
final class LockWaiter: @unchecked Sendable {
    /// What a wait gave.
    enum Outcome {
        /// The caller owns this descriptor, which holds the lock.
        case acquired(FileDescriptor)
        case failed(Errno)
        /// The name no longer refers to the locked inode: the lockfile was replaced.
        case replaced
        case timedOut
        /// The caller's ``LockWaitInterruption`` ended the wait.
        case interrupted
    }

    private static let parked = Mutex<[HeldLocks.Key: LockWaiter]>([:])

    /// Guards everything below it.
    private let condition = NSCondition()
    private let key: HeldLocks.Key
    private let calls: SystemCalls
    private var claimants = 0
    private var waiting = false
    private var handedOver: FileDescriptor?
    private var failure: Errno?
    /// A descriptor for the waiter thread to block on, given by the claimant that opened it.
    private var toPark: FileDescriptor?
    /// Whether the waiter thread exists (parked in `flock`, or idle for the next wait).
    private var threadRunning = false

    /// How long an idle waiter thread stays for the next contended wait before it ends: writers
    /// taking turns wait on every commit, and a thread started per wait cost a `clone3`, its
    /// signal-mask and naming calls, and its exit each time (seen with strace under contention).
    static var idleLifetime: Duration { .seconds(2) }

    private init(key: HeldLocks.Key, calls: SystemCalls) {
        self.key = key
        self.calls = calls
    }

    /// Waits until `deadline` for the lock on the lockfile `key` names, adopting the parked
    /// waiter of that lockfile if there is one.
    static func wait(
        for key: HeldLocks.Key, calls: SystemCalls, directory: FileDescriptor, lockFile: String, until deadline: ContinuousClock.Instant,
        interruption: LockWaitInterruption? = nil
    ) -> Outcome {
        let waiter = parked.withLock { parked in
            if let waiter = parked[key] { return waiter }
            let waiter = LockWaiter(key: key, calls: calls)
            parked[key] = waiter
            return waiter
        }
        return waiter.claim(directory: directory, lockFile: lockFile, until: deadline, interruption: interruption)
    }

    /// How many waiter threads are parked in `flock` in this process (for tests).
    static var parkedCount: Int {
        parked.withLock { $0.values.filter { $0.isWaiting }.count }
    }

    private var isWaiting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return waiting
    }

    private func claim(
        directory: FileDescriptor, lockFile: String, until deadline: ContinuousClock.Instant, interruption: LockWaitInterruption?
    ) -> Outcome {
        interruption?.onInterrupt { [condition] in
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        defer { interruption?.onInterrupt(nil) }
        condition.lock()
        defer { condition.unlock() }
        claimants += 1
        defer { claimants -= 1 }
        while true {
            if let fd = handedOver {
                handedOver = nil
                return .acquired(fd)
            }
            if let error = failure {
                failure = nil
                return error == .staleNFSFileHandle ? .replaced : .failed(error)
            }
            if interruption?.isInterrupted == true { return .interrupted }
            if !waiting {
                // Opened here, on the caller's thread, while its directory descriptor is open.
                switch openLockFile(directory: directory, lockFile: lockFile) {
                case .success(let fd): startWaiting(fd)
                case .failure(let error): return error == .staleNFSFileHandle ? .replaced : .failed(error)
                }
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return .timedOut }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(remaining.saturatingNanoseconds) / 1e9))
        }
    }

    /// The waiter's own descriptor of the lockfile; `ESTALE` stands for "not the same inode".
    private func openLockFile(directory: FileDescriptor, lockFile: String) -> Result<FileDescriptor, Errno> {
        let fd: FileDescriptor
        do { fd = try calls.open(directory, lockFile, .readExisting) } catch {
            return .failure(error == .noSuchFileOrDirectory ? Errno.staleNFSFileHandle : error)
        }
        guard let status = try? calls.fstat(fd), status.identity == key else {
            try? calls.close(fd)
            return .failure(Errno.staleNFSFileHandle)
        }
        return .success(fd)
    }

    /// Called with the condition locked: hands `fd` to the waiter thread, starting it if none is
    /// idle.
    private func startWaiting(_ fd: FileDescriptor) {
        waiting = true
        toPark = fd
        guard !threadRunning else { return condition.broadcast() }
        threadRunning = true
        let thread = Thread { [self] in serve() }
        thread.name = "StateCoordinator.LockWaiter"
        thread.start()
    }

    /// The waiter thread's life: park each descriptor it is given, and end after
    /// ``idleLifetime`` without one.
    private func serve() {
        condition.lock()
        while true {
            if let fd = toPark {
                toPark = nil
                condition.unlock()
                park(fd)
                condition.lock()
                continue
            }
            let idleUntil = Date(timeIntervalSinceNow: Double(Self.idleLifetime.saturatingNanoseconds) / 1e9)
            if !condition.wait(until: idleUntil), toPark == nil {
                threadRunning = false
                condition.unlock()
                return
            }
        }
    }

    /// The waiter thread: blocks in `flock` until the lock is free, then hands it over.
    private func park(_ fd: FileDescriptor) {
        let result = Result { () throws(Errno) in try calls.flock(fd, .exclusive) }
        condition.lock()
        // Broadcast once unlocked: a claimant woken while this thread still held the lock would
        // block on it again, a second sleep and wake on the path of every hand-over. (Nothing is
        // missed: a claimant checks under the lock before it waits, and waiting releases it.)
        defer {
            condition.unlock()
            condition.broadcast()
        }
        waiting = false
        switch result {
        case .success where claimants > 0:
            handedOver = fd
        case .success:
            try? calls.flock(fd, .unlock)
            try? calls.close(fd)
        case .failure(let error):
            if claimants > 0 { failure = error }
            try? calls.close(fd)
        }
    }
}
