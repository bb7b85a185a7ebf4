import Dispatch

/// A repeating timer on a queue. `@unchecked Sendable` because `DispatchSourceTimer` is
/// thread-safe for what is used here (`resume` once, `cancel` from any thread) but not annotated.
final class RepeatingTimer: @unchecked Sendable {
    private let source: DispatchSourceTimer

    /// Starts a timer that first fires after `interval` and then every `interval`.
    init(every interval: Duration, on queue: DispatchQueue, handler: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() { source.cancel() }

    deinit { source.cancel() }
}
