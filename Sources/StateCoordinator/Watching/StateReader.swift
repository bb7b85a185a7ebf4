import Dispatch
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
    /// Shared with the follower's sink, which stores each new snapshot in it.
    private final class Latest: Sendable {
        let snapshot: Mutex<StateSnapshot<State>>
        init(_ initial: StateSnapshot<State>) { snapshot = Mutex(initial) }
    }

    private let latest: Latest
    private let follower: Mutex<StateFollower<State>?>

    /// The newest verified snapshot.
    public var current: StateSnapshot<State> { latest.snapshot.withLock { $0 } }
    /// How the reader learns of new versions.
    public var mode: WatchMode { follower.withLock { $0?.mode } ?? .polling(reason: "closed") }
    /// The reader's counters.
    public var statistics: WatchStatistics { follower.withLock { $0?.statistics } ?? WatchStatistics() }

    /// - Parameters:
    ///   - initial: the snapshot current before the watch started, read from the file `initialFile`.
    ///   - onEvent: called for every event after it is applied, in order, on a serial queue of the
    ///     reader's own (never on the watch hub's thread, so it may block or close the reader); the
    ///     first version it sees is the one after `initial`.
    ///   - observer: called with each snapshot right after it is stored, on the storing thread.
    init(
        handle: StoreHandle, initial: StateSnapshot<State>, initialFile: SeenVersion, options: WatchOptions,
        onEvent: (@Sendable (WatchEvent<State>) -> Void)?, observer: (@Sendable (StateSnapshot<State>) -> Void)?
    ) {
        let latest = Latest(initial)
        self.latest = latest
        follower = Mutex(nil)
        let callbacks = onEvent.map { ($0, DispatchQueue(label: "StateCoordinator.reader.\(handle.files.name)")) }
        // The sink may run on the hub thread: it only stores the snapshot and hands the callback on.
        let created = StateFollower<State>(handle: handle, options: options, since: nil, everyVersion: false) { event in
            if case .snapshot(let snapshot) = event {
                // The previous snapshot is freed after the lock is released, not while a tick
                // loop may be waiting for it.
                let previous = latest.snapshot.withLock { current in
                    defer { current = snapshot }
                    return current
                }
                observer?(snapshot)
                _ = consume previous
            }
            if let (callback, queue) = callbacks { queue.async { callback(event) } }
        }
        created.assumeHeld(initialFile, version: initial.version, storeID: initial.storeID)
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
