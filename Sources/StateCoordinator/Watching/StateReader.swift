import Synchronization

/// Keeps the newest snapshot of a store in memory, updated in the background, for hot paths
/// such as a trading bot's tick loop: ``current`` is an uncontended lock and a copy, no system
/// call. Dropping the reader (or ``close()``) releases its watch.
///
/// ```swift
/// let reader = try store.reader()
/// while trading { if reader.current.state.halt { break } … }
/// ```
public final class StateReader<State: Codable & Sendable>: Sendable {
    private let latest: Mutex<StateSnapshot<State>>
    private let follower: Mutex<StateFollower<State>?>

    /// The newest verified snapshot.
    public var current: StateSnapshot<State> { latest.withLock { $0 } }
    /// How the reader learns of new versions.
    public var mode: WatchMode { follower.withLock { $0?.mode } ?? .polling(reason: "closed") }
    /// The reader's counters.
    public var statistics: WatchStatistics { follower.withLock { $0?.statistics } ?? WatchStatistics() }

    /// - Parameters:
    ///   - initial: the snapshot current before the watch started.
    ///   - onEvent: called on the watcher's queue for every event after it is applied.
    init(
        handle: StoreHandle, initial: StateSnapshot<State>, options: WatchOptions,
        onEvent: (@Sendable (WatchEvent<State>) -> Void)?
    ) {
        latest = Mutex(initial)
        follower = Mutex(nil)
        let created = StateFollower<State>(handle: handle, options: options, since: nil, everyVersion: false) {
            [weak self] event in
            guard let self else { return }
            if case .snapshot(let snapshot) = event {
                self.latest.withLock { $0 = snapshot }
            }
            onEvent?(event)
        }
        follower.withLock { $0 = created }
        created.start()
    }

    /// Stops following; ``current`` keeps the last snapshot.
    public func close() {
        follower.withLock { follower in
            defer { follower = nil }
            return follower
        }?.stop()
    }

    deinit { close() }
}
