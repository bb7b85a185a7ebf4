#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Foundation
import Synchronization
import SystemPackage

/// Waits for a contended writer lock in a blocking `flock(LOCK_EX)` on a thread of its own, so
/// the lock is taken the moment its holder releases it, while the committing thread waits with a
/// timeout. (Polling with `LOCK_NB` would leave the lock idle between polls and starve waiters
/// that poll less often.)
///
/// The waiter opens its own descriptor of the lockfile, so the lock it takes belongs to a
/// separate open file description: when the committing thread gives up, the waiter releases and
/// closes that descriptor as soon as its `flock` returns, and nothing else is affected.
final class LockWaiter: Sendable {
    enum Outcome: Sendable {
        case acquired(CInt)
        case failed(Errno)
        case timedOut
    }

    private enum Phase {
        case waiting
        case acquired(CInt)
        case failed(Errno)
        case abandoned
    }

    private let phase = Mutex<Phase>(.waiting)
    private let finished = DispatchSemaphore(value: 0)

    /// Opens the lockfile and starts waiting for its lock.
    init(calls: SystemCalls, directory: CInt, lockFile: String) throws(Errno) {
        let fd = try calls.open(directory, lockFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0)
        let thread = Thread { [self] in wait(fd, calls: calls) }
        thread.name = "StateCoordinator.LockWaiter"
        thread.start()
    }

    private func wait(_ fd: CInt, calls: SystemCalls) {
        do {
            try calls.flock(fd, LOCK_EX)
            let kept = phase.withLock { phase -> Bool in
                if case .abandoned = phase { return false }
                phase = .acquired(fd)
                return true
            }
            if !kept {
                try? calls.flock(fd, LOCK_UN)
                try? calls.close(fd)
            }
        } catch {
            phase.withLock { phase in
                if case .waiting = phase { phase = .failed(error) }
            }
            try? calls.close(fd)
        }
        finished.signal()
    }

    /// Waits up to `timeout`; on `.acquired` the caller owns the returned descriptor, which holds the lock.
    func outcome(within timeout: Duration) -> Outcome {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(clamping: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        _ = finished.wait(timeout: .now() + .nanoseconds(nanoseconds))
        return phase.withLock { phase -> Outcome in
            switch phase {
            case .acquired(let fd): return .acquired(fd)
            case .failed(let errno): return .failed(errno)
            case .waiting, .abandoned:
                phase = .abandoned
                return .timedOut
            }
        }
    }
}
