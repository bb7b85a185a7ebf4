import NIOCore
import Synchronization

/// Wakes a task on ``EtcdTaskExecutor``'s loop when signalled, or at a deadline (a timer on the
/// loop, not `Task.sleep`: see ``EtcdDeadline``). A signal while nobody waits is kept for the next
/// wait; several are one.
final class EtcdWakeup: Sendable {
    private struct State {
        var pending = false
        var continuation: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func signal() {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let continuation = state.continuation else {
                state.pending = true
                return nil
            }
            state.continuation = nil
            return continuation
        }
        waiting?.resume()
    }

    /// Returns at the next signal (at once if one came since the last wait), at `deadline`, or
    /// when the task is cancelled.
    func wait(until deadline: ContinuousClock.Instant) async {
        let delay = ContinuousClock.now.duration(to: deadline)
        if delay <= .zero {
            state.withLock { $0.pending = false }
            return
        }
        let nanoseconds = Int64(delay.seconds * 1e9)
        let timer = EtcdTaskExecutor.shared.loop.scheduleTask(in: .nanoseconds(nanoseconds)) { self.signal() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.continuation = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
        timer.cancel()
    }
}
