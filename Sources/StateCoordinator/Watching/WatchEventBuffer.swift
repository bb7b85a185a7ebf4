import DequeModule
import Synchronization

/// The queue between a follower and one consumer.
///
/// When coalescing, a new snapshot replaces any snapshot still waiting, so a slow consumer gets
/// the newest version rather than a backlog. Otherwise every version is kept, up to
/// ``maximumPendingEvents``; past that the oldest waiting snapshots are replaced by one
/// ``WatchEvent/gap(missing:)`` naming exactly the versions dropped, so a consumer that was
/// promised every version learns of each one it does not get. Other events (problems, resets)
/// are kept in order.
final class WatchEventBuffer<State: Sendable>: Sendable {
    /// The most events kept for a consumer that does not read.
    static var maximumPendingEvents: Int { 1024 }

    private struct Contents {
        var events: Deque<WatchEvent<State>> = []
        var waiter: CheckedContinuation<WatchEvent<State>?, Never>?
        var finished = false
        var onTermination: (@Sendable () -> Void)?
    }

    private let coalesce: Bool
    private let limit: Int
    private let contents = Mutex(Contents())

    init(coalesce: Bool, limit: Int = WatchEventBuffer.maximumPendingEvents) {
        self.coalesce = coalesce
        self.limit = max(limit, 2)
    }

    /// Runs `action` once when the sequence ends (finished, or the consumer cancelled).
    func onTermination(_ action: @escaping @Sendable () -> Void) {
        contents.withLock { $0.onTermination = action }
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
            if contents.events.count > limit { Self.collapse(&contents.events, to: limit) }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Makes room: in the oldest run of three or more versions (snapshots and gaps, which rise
    /// strictly), all but the newest become one gap; a run of two becomes one gap; with no such
    /// run, the oldest other event goes. Each pass removes at least one event.
    private static func collapse(_ events: inout Deque<WatchEvent<State>>, to limit: Int) {
        while events.count > limit {
            var start = 0
            var collapsed = false
            while start < events.count {
                guard events[start].versions != nil else {
                    start += 1
                    continue
                }
                var end = start
                while end + 1 < events.count, events[end + 1].versions != nil { end += 1 }
                // The newest of a longer run stays, so the consumer still learns where the store is.
                let through = end - start >= 2 ? end - 1 : end
                if end > start, let first = events[start].versions?.lowerBound, let last = events[through].versions?.upperBound {
                    events.replaceSubrange(start...through, with: [.gap(missing: first...last)])
                    collapsed = true
                    break
                }
                start = end + 1
            }
            if !collapsed { events.remove(at: events.firstIndex { $0.versions == nil } ?? 0) }
        }
    }

    /// Ends the sequence: a waiting consumer gets nil.
    func finish() {
        let (waiter, onTermination) = contents.withLock { contents in
            let action = contents.finished ? nil : contents.onTermination
            contents.finished = true
            contents.onTermination = nil
            defer { contents.waiter = nil }
            return (contents.waiter, action)
        }
        waiter?.resume(returning: nil)
        onTermination?()
    }

    /// The next event, or nil once finished or cancelled (cancelling ends the sequence).
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

extension WatchEvent {
    /// The versions a snapshot or gap stands for.
    fileprivate var versions: ClosedRange<UInt64>? {
        switch self {
        case .snapshot(let snapshot): snapshot.version...snapshot.version
        case .gap(let missing): missing
        default: nil
        }
    }
}
