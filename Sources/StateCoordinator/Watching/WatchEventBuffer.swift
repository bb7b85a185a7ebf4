import Synchronization

/// The queue between a follower and one consumer. When coalescing, a new snapshot replaces any
/// snapshot still waiting, so a slow consumer gets the newest version rather than a backlog;
/// other events (problems, resets, gaps) are kept in order.
final class WatchEventBuffer<State: Sendable>: Sendable {
    /// The most non-snapshot events kept for a consumer that does not read; older ones are dropped.
    static var maximumPendingEvents: Int { 1024 }

    private struct Contents {
        var events: [WatchEvent<State>] = []
        var waiter: CheckedContinuation<WatchEvent<State>?, Never>?
        var finished = false
    }

    private let coalesce: Bool
    private let contents = Mutex(Contents())

    init(coalesce: Bool) {
        self.coalesce = coalesce
    }

    func push(_ event: WatchEvent<State>) {
        let waiter = contents.withLock { contents -> CheckedContinuation<WatchEvent<State>?, Never>? in
            guard !contents.finished else { return nil }
            if let waiter = contents.waiter {
                contents.waiter = nil
                return waiter
            }
            if coalesce, case .snapshot = event {
                contents.events.removeAll { if case .snapshot = $0 { true } else { false } }
            }
            contents.events.append(event)
            if contents.events.count > Self.maximumPendingEvents { contents.events.removeFirst() }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the sequence: a waiting consumer gets nil.
    func finish() {
        let waiter = contents.withLock { contents -> CheckedContinuation<WatchEvent<State>?, Never>? in
            contents.finished = true
            defer { contents.waiter = nil }
            return contents.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, or nil once finished or cancelled.
    func next() async -> WatchEvent<State>? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = contents.withLock { contents -> WatchEvent<State>?? in
                    if !contents.events.isEmpty { return .some(contents.events.removeFirst()) }
                    if contents.finished || Task.isCancelled { return .some(nil) }
                    contents.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
