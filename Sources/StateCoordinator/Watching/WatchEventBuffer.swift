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

    private let coalesce: Bool
    private let limit: Int
    private let events = Mailbox<Deque<WatchEvent<State>>>([])
    private let termination = Mutex<(@Sendable () -> Void)?>(nil)

    init(coalesce: Bool, limit: Int = WatchEventBuffer.maximumPendingEvents) {
        self.coalesce = coalesce
        self.limit = max(limit, 2)
    }

    /// Runs `action` once when the sequence ends (finished, or the consumer cancelled).
    func onTermination(_ action: @escaping @Sendable () -> Void) {
        termination.withLock { $0 = action }
    }

    func push(_ event: WatchEvent<State>) {
        events.post { events in
            if coalesce, case .snapshot = event {
                events.removeAll { if case .snapshot = $0 { true } else { false } }
            }
            events.append(event)
            if events.count > limit { Self.collapse(&events, to: limit) }
        }
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

    /// Ends the sequence: nothing more is pushed; the consumer gets what is pending, then nil.
    func finish() {
        events.close()
        termination.withLock { action in
            defer { action = nil }
            return action
        }?()
    }

    /// The next event, or nil once finished or cancelled (cancelling ends the sequence).
    func next() async -> WatchEvent<State>? {
        if let event = await events.take({ events, _ in events.popFirst() }) { return event }
        finish()  // cancelled, or finished already
        return nil
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
