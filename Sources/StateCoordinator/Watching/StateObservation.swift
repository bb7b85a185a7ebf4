/// How to follow a store, as one value: which versions to deliver, what a version that cannot be
/// used does, and whether to take part in the reader registry. Consume it as an async sequence of
/// snapshots (``values(in:)``), of every event (``events(in:)``), or as a ``StateReader`` for a
/// tick loop (``reader(in:onEvent:)-7oc6k``).
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false }
/// let store = try await ReadOnlyStateStore<Risk>(directory: "/srv/bot")
/// // Fail-safe: a version this bot cannot decode ends the loop instead of being passed over.
/// let observation = StateObservation(unusableVersions: .fail, label: "bot-eu-1")
/// for try await snapshot in observation.values(in: store) { print("halt:", snapshot.state.halt) }
/// ```
///
/// Nothing runs until iteration starts: each iterator arms a watch of its own, gets the current
/// version first, and releases everything when it is dropped or its task is cancelled.
public struct StateObservation: Sendable {
    /// What a version that cannot be used (a state that does not decode as the store's type, a
    /// file that fails verification or is too large) does to an async sequence of snapshots.
    /// Transient failures (EMFILE, EIO) are retried either way, never thrown.
    public enum UnusableVersions: Sendable, Equatable {
        /// It is passed over: the last good version stays the newest delivered. ``events(in:)``
        /// shows it as a ``WatchEvent/problem(_:)``; a reader as its ``StateReader/problem``.
        case skip
        /// The sequence throws its ``StateStoreError`` and ends: the fail-safe choice for a consumer
        /// that must not act on an older version without knowing it.
        case fail
    }

    /// Which versions to deliver (a reader always holds the newest: this applies to sequences).
    public var delivery: WatchDelivery
    /// What a version that cannot be used does to ``values(in:)``.
    public var unusableVersions: UnusableVersions
    /// Register each iterator (or the reader) under this label in the store's reader registry;
    /// nil follows without registering.
    public var label: String?
    /// When a registered sequence acknowledges the versions it delivered.
    public var acknowledgement: WatchAcknowledgement
    /// Notification, polling and consistency-check settings.
    public var options: WatchOptions

    /// An observation; the defaults deliver the newest version, pass over unusable ones, and do
    /// not register.
    public init(
        _ delivery: WatchDelivery = .latest, unusableVersions: UnusableVersions = .skip, label: String? = nil,
        acknowledgement: WatchAcknowledgement = .manual, options: WatchOptions = WatchOptions()
    ) {
        self.delivery = delivery
        self.unusableVersions = unusableVersions
        self.label = label
        self.acknowledgement = acknowledgement
        self.options = options
    }

    /// The store's versions as this observation delivers them: the current one first, then each
    /// new one. Versions rise strictly within one store identity.
    ///
    /// - Parameter store: the store to follow.
    public func values<State>(in store: ReadableStateStore<State>) -> StateValues<State> {
        StateValues(watch: events(in: store), unusableVersions: unusableVersions)
    }

    /// Every event of the observation: each new version and every problem on the way (unusable
    /// files, resets, the store going away, a change of mode, gaps).
    ///
    /// - Parameter store: the store to follow.
    public func events<State>(in store: ReadableStateStore<State>) -> StateWatch<State> {
        store.makeWatch(delivery, label: label, acknowledgement: acknowledgement, options: options)
    }

    /// A reader that keeps the newest snapshot in memory for hot paths and tick loops, following
    /// the store from the moment it returns until ``StateReader/close()`` (or the end of
    /// ``StateReader/run()``, for a service). The delivery is always the newest version
    /// (``WatchDelivery/latest``): a reader holds one snapshot.
    ///
    /// With a ``label``, the reader registers in the store's reader registry before it returns:
    /// writers then see it (``ReadableStateStore/readers()-2e726``), and can wait until it has
    /// applied a version (``ReadableStateStore/waitForAcknowledgements(of:from:timeout:)-3ell6``).
    /// The library records each version the reader loads, and each it rejects because it does
    /// not decode as `State`; the application reports what it applied with
    /// ``StateReader/acknowledge(_:)``. A reader that may not write the registry reads all the
    /// same, unregistered (``StateReader/registration`` says why, and the store's logger says it
    /// once).
    ///
    /// - Parameters:
    ///   - store: the store to follow.
    ///   - onEvent: optional callback for code that isn't async; runs on a serial queue of the
    ///     reader's own, after ``StateReader/current`` was updated. It sees the versions after the
    ///     one ``StateReader/current`` holds when this method returns (and every problem).
    /// - Throws: what ``ReadableStateStore/read()-2miyr`` throws, for the first snapshot.
    public func reader<State>(
        in store: ReadableStateStore<State>, onEvent: (@Sendable (WatchEvent<State>) -> Void)? = nil
    ) async throws(StateStoreError) -> StateReader<State> {
        try await store.openReader(label: label, options: options, onEvent: onEvent)
    }

    /// The synchronous form of ``reader(in:onEvent:)-7oc6k``, for code that is not async (it blocks
    /// the calling thread for the first read and the registration).
    @_disfavoredOverload
    public func reader<State>(
        in store: ReadableStateStore<State>, onEvent: (@Sendable (WatchEvent<State>) -> Void)? = nil
    ) throws(StateStoreError) -> StateReader<State> {
        try store.openReader(label: label, options: options, onEvent: onEvent)
    }
}
