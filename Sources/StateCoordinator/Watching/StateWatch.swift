/// An asynchronous sequence of everything a watcher sees: each new version, and every problem.
///
/// The current version comes first; the watch is armed before it is read. The watch is released
/// when the sequence and its iterators are dropped, or when the consuming task is cancelled.
public struct StateWatch<State: Codable & Sendable>: AsyncSequence, Sendable {
    /// One event.
    public typealias Element = WatchEvent<State>

    let lifetime: WatchLifetime<State>

    /// How the watcher learns of new versions.
    public var mode: WatchMode { lifetime.follower.mode }
    /// The watcher's counters.
    public var statistics: WatchStatistics { lifetime.follower.statistics }

    /// Makes the iterator; a watch supports one consumer.
    public func makeAsyncIterator() -> Iterator { Iterator(lifetime: lifetime) }

    /// The iterator of a ``StateWatch``.
    public struct Iterator: AsyncIteratorProtocol {
        let lifetime: WatchLifetime<State>

        /// The next event; nil once the watch is cancelled.
        public mutating func next() async -> WatchEvent<State>? {
            await lifetime.buffer.next()
        }
    }
}

/// Owns a follower and its buffer; stopping the follower when the last holder lets go.
final class WatchLifetime<State: Codable & Sendable>: Sendable {
    let follower: StateFollower<State>
    let buffer: WatchEventBuffer<State>

    init(follower: StateFollower<State>, buffer: WatchEventBuffer<State>) {
        self.follower = follower
        self.buffer = buffer
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

    /// Makes the iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(base: watch.makeAsyncIterator()) }

    /// The iterator of ``StateSnapshots``.
    public struct Iterator: AsyncIteratorProtocol {
        var base: StateWatch<State>.Iterator

        /// The next version; nil once the watch is cancelled.
        public mutating func next() async -> StateSnapshot<State>? {
            while let event = await base.next() {
                if case .snapshot(let snapshot) = event { return snapshot }
            }
            return nil
        }
    }
}
