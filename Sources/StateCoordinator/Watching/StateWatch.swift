import Synchronization

/// An asynchronous sequence of everything a watcher sees: each new version, and every problem.
///
/// Nothing runs until iteration starts: each iterator arms a watch of its own (one follower per
/// iterator, as GRDB's `ValueObservation` does), gets the current version first (the watch is
/// armed before it is read), and releases everything when it is dropped or its consuming task is
/// cancelled.
public struct StateWatch<State: Codable & Sendable>: AsyncSequence, Sendable {
    /// One event.
    public typealias Element = WatchEvent<State>

    let start: @Sendable () -> WatchLifetime<State>
    let newest = NewestFollower<State>()

    /// How the newest iterator's watcher learns of new versions (the default mode before any
    /// iteration started).
    public var mode: WatchMode { newest.follower?.mode ?? .inotify }
    /// The newest iterator's counters (zero before any iteration started).
    public var statistics: WatchStatistics { newest.follower?.statistics ?? WatchStatistics() }

    /// Makes an iterator, which starts a watch of its own.
    public func makeAsyncIterator() -> Iterator {
        let lifetime = start()
        newest.follower = lifetime.follower
        return Iterator(lifetime: lifetime)
    }

    /// The iterator of a ``StateWatch``.
    public struct Iterator: AsyncIteratorProtocol {
        let lifetime: WatchLifetime<State>

        /// How this iterator's watcher learns of new versions.
        public var mode: WatchMode { lifetime.follower.mode }
        /// This iterator's counters.
        public var statistics: WatchStatistics { lifetime.follower.statistics }

        /// The next event; nil once the consuming task is cancelled (which releases the watch).
        public mutating func next() async -> WatchEvent<State>? {
            await lifetime.buffer.next()
        }
    }
}

/// The follower of the newest iterator of a watch, held weakly (for ``StateWatch/mode``).
final class NewestFollower<State: Codable & Sendable>: Sendable {
    private let reference = Mutex<WeakFollower<State>>(WeakFollower())

    var follower: StateFollower<State>? {
        get { reference.withLock { $0.follower } }
        set { reference.withLock { $0.follower = newValue } }
    }
}

struct WeakFollower<State: Codable & Sendable>: @unchecked Sendable {
    weak var follower: StateFollower<State>?
}

/// Owns a follower and its buffer: stopping the follower when the consumer is cancelled or the
/// iterator is dropped.
final class WatchLifetime<State: Codable & Sendable>: Sendable {
    let follower: StateFollower<State>
    let buffer: WatchEventBuffer<State>

    init(follower: StateFollower<State>, buffer: WatchEventBuffer<State>) {
        self.follower = follower
        self.buffer = buffer
        buffer.onTermination { [follower] in follower.stop() }
    }

    deinit {
        follower.stop()
        buffer.finish()
    }
}

/// An asynchronous sequence of new versions only: ``StateWatch`` without the other events.
public struct StateSnapshots<State: Codable & Sendable>: AsyncSequence, Sendable {
    /// One version.
    public typealias Element = StateSnapshot<State>

    /// The full watch this sequence reads from, for its mode and statistics.
    public let watch: StateWatch<State>

    /// Makes an iterator, which starts a watch of its own.
    public func makeAsyncIterator() -> Iterator { Iterator(base: watch.makeAsyncIterator()) }

    /// The iterator of ``StateSnapshots``.
    public struct Iterator: AsyncIteratorProtocol {
        var base: StateWatch<State>.Iterator

        /// The next version; nil once the consuming task is cancelled.
        public mutating func next() async -> StateSnapshot<State>? {
            while let event = await base.next() {
                if case .snapshot(let snapshot) = event { return snapshot }
            }
            return nil
        }
    }
}
