import Foundation

/// Ends a wait for the writer lock early: a writer whose published mutations were all answered
/// by the lock holder no longer needs the lock (``LockWaiter``'s waiter thread, still parked in
/// `flock`, then releases the lock the moment it gets it, as after a timeout).
final class LockWaitInterruption: @unchecked Sendable {
    /// Guards the two fields below.
    private let condition = NSCondition()
    private var interrupted = false
    private var wake: (@Sendable () -> Void)?

    /// Whether ``interrupt()`` was called since the last ``reset()``.
    var isInterrupted: Bool {
        condition.lock()
        defer { condition.unlock() }
        return interrupted
    }

    /// Interrupts the wait: sets the flag, then wakes the waiting thread.
    func interrupt() {
        condition.lock()
        interrupted = true
        let wake = wake
        condition.broadcast()
        condition.unlock()
        wake?()
    }

    /// Clears the flag, before the waiter looks at what the interruption announced (so that an
    /// interruption meanwhile is seen by its next wait).
    func reset() {
        condition.lock()
        interrupted = false
        condition.unlock()
    }

    /// Called by the lock's waiting thread before it waits: how to wake it (nil when done).
    func onInterrupt(_ wake: (@Sendable () -> Void)?) {
        condition.lock()
        self.wake = wake
        condition.unlock()
    }

    /// Blocks until interrupted or `deadline`.
    func wait(until deadline: ContinuousClock.Instant) {
        condition.lock()
        defer { condition.unlock() }
        while !interrupted {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(remaining.saturatingNanoseconds) / 1e9))
        }
    }
}
