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

    let acknowledgement: WatchAcknowledgement
    let start: @Sendable () -> WatchLifetime<State>
    let newest = NewestFollower<State>()

    init(acknowledgement: WatchAcknowledgement = .manual, start: @escaping @Sendable () -> WatchLifetime<State>) {
        self.acknowledgement = acknowledgement
        self.start = start
    }

    /// Whether the newest iterator is registered as a reader (``ReaderRegistrationStatus/notRequested``
    /// for a watch without a label, and before iteration started).
    public var registration: ReaderRegistrationStatus { newest.registrar?.status ?? .notRequested }

    /// Tells writers waiting for acknowledgements that the application has applied `snapshot`
    /// (and every older version), as the newest iterator's reader. Nothing for an unregistered watch.
    public func acknowledge(_ snapshot: StateSnapshot<State>) {
        newest.registrar?.slot?.registration?.acknowledge(snapshot.version, storeID: snapshot.storeID)
    }

    /// Returns once every acknowledgement and rejection made so far is written to the registry
    /// (they are written on a thread of the registration's own): call it before the process
    /// exits right after acknowledging.
    public func waitUntilReported() async {
        await newest.registrar?.slot?.registration?.waitUntilWritten()
    }

    /// Ends the newest iterator's registration as a reader and returns once its entry is removed
    /// from the registry (after every report made before it is written). Call it before a process
    /// that watched as a registered reader exits normally: otherwise its entry stays, dead, until
    /// a lister sweeps it. The iterator goes on delivering, unregistered.
    public func unregister() async {
        await newest.registrar?.slot?.registration?.closeAndWait()
    }

    /// Tells waiting writers that the application cannot use `snapshot` (a NACK), with why.
    public func reject(_ snapshot: StateSnapshot<State>, because error: any Error) {
        newest.registrar?.slot?.registration?.reject(snapshot.version, storeID: snapshot.storeID, error: "\(error)")
    }

    /// How the newest iterator's watcher learns of new versions (the default mode before any
    /// iteration started).
    public var mode: WatchMode { newest.follower?.mode ?? .inotify }
    /// The newest iterator's counters (zero before any iteration started).
    public var statistics: WatchStatistics { newest.follower?.statistics ?? WatchStatistics() }

    /// Makes an iterator, which starts a watch of its own.
    public func makeAsyncIterator() -> Iterator {
        let lifetime = start()
        newest.follower = lifetime.follower
        newest.registrar = lifetime.registrar
        return Iterator(lifetime: lifetime, acknowledgesEach: acknowledgement == .afterEachIteration)
    }

    /// The iterator of a ``StateWatch``.
    public struct Iterator: AsyncIteratorProtocol {
        let lifetime: WatchLifetime<State>
        let acknowledgesEach: Bool
        /// The version handed to the loop body last, acknowledged when it asks for the next event.
        var pending: (version: UInt64, storeID: String)?

        /// How this iterator's watcher learns of new versions.
        public var mode: WatchMode { lifetime.follower.mode }
        /// This iterator's counters.
        public var statistics: WatchStatistics { lifetime.follower.statistics }

        /// The next event; nil once the consuming task is cancelled (which releases the watch).
        public mutating func next() async -> WatchEvent<State>? {
            if let pending {
                lifetime.registrar.slot?.registration?.acknowledge(pending.version, storeID: pending.storeID)
                self.pending = nil
            }
            let event = await lifetime.buffer.next()
            if acknowledgesEach, case .snapshot(let snapshot)? = event { pending = (snapshot.version, snapshot.storeID) }
            return event
        }
    }
}

/// The follower of the newest iterator of a watch, held weakly (for ``StateWatch/mode``).
final class NewestFollower<State: Codable & Sendable>: Sendable {
    private let reference = Mutex<WeakFollower<State>>(WeakFollower())

    var follower: (any BackendFollow)? {
        get { reference.withLock { $0.follower } }
        set { reference.withLock { $0.follower = newValue } }
    }

    var registrar: WatchRegistrar? {
        get { reference.withLock { $0.registrar } }
        set { reference.withLock { $0.registrar = newValue } }
    }
}

struct WeakFollower<State: Codable & Sendable>: @unchecked Sendable {
    weak var follower: (any BackendFollow)?
    weak var registrar: WatchRegistrar?
}

/// Owns a follower and its buffer: stopping the follower when the consumer is cancelled or the
/// iterator is dropped.
final class WatchLifetime<State: Codable & Sendable>: Sendable {
    let follower: any BackendFollow
    let buffer: WatchEventBuffer<State>
    let registrar: WatchRegistrar

    init(follower: any BackendFollow, buffer: WatchEventBuffer<State>, registrar: WatchRegistrar = WatchRegistrar()) {
        self.follower = follower
        self.buffer = buffer
        self.registrar = registrar
        buffer.onTermination { [follower, registrar] in
            follower.stop()
            registrar.close()
        }
    }

    deinit {
        follower.stop()
        registrar.close()
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
