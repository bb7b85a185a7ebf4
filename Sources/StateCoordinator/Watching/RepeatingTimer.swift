import Dispatch

/// A repeating timer on a queue. `@unchecked Sendable` because `DispatchSourceTimer` is
/// thread-safe for what is used here (`resume` once, `cancel` from any thread) but not annotated.
final class RepeatingTimer: @unchecked Sendable {
    private let source: DispatchSourceTimer

    /// Starts a timer that first fires after `interval` and then every `interval`.
    init(every interval: Duration, on queue: DispatchQueue, handler: @escaping @Sendable () -> Void) {
        // Saturating: an interval of years (or Int64.max seconds) is "practically never", not a trap;
        // and at least 1 ms, so that a zero interval cannot spin.
        let nanoseconds = max(1_000_000, Int(clamping: interval.saturatingNanoseconds))
        source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() { source.cancel() }

    deinit { source.cancel() }
}
