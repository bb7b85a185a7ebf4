extension ReadableStateStore {
    /// Every event of a watch on this store: each new version (the current one first) and every
    /// problem on the way (unverifiable files, resets, the store going away, a change of mode).
    ///
    /// Nothing starts until iteration does: each iterator arms a watch of its own and releases it
    /// when its task is cancelled or it is dropped.
    ///
    /// With a `label`, each iterator registers as a reader in the store's reader registry (on the
    /// watch's own queue, before its first event), as ``StateObservation/reader(in:onEvent:)-7oc6k``
    /// does; `acknowledgement` says whether each version counts as applied once the loop body
    /// that received it has finished (``WatchAcknowledgement/afterEachIteration``) or only when
    /// the application says so with ``StateWatch/acknowledge(_:)``.
    ///
    /// - Parameters:
    ///   - delivery: which versions to deliver: ``WatchDelivery/latest`` (default), ``WatchDelivery/every``
    ///     or ``WatchDelivery/after(_:)``.
    ///   - label: register each iterator as this reader; nil watches without registering.
    ///   - acknowledgement: when a registered watch acknowledges the versions it delivered.
    ///   - options: notification, polling and consistency-check settings.
    @available(*, deprecated, message: "Use StateObservation(delivery, label:, acknowledgement:, options:).events(in: store)")
    public func watch(
        _ delivery: WatchDelivery = .latest, label: String? = nil, acknowledgement: WatchAcknowledgement = .manual,
        options: WatchOptions = WatchOptions()
    ) -> StateWatch<State> {
        makeWatch(delivery, label: label, acknowledgement: acknowledgement, options: options)
    }

    /// ``watch(_:label:acknowledgement:options:)`` through the store's backend, or on a given
    /// watch loop (tests use a scripted one).
    func makeWatch(
        _ delivery: WatchDelivery, label: String? = nil, acknowledgement: WatchAcknowledgement = .manual, options: WatchOptions,
        loop: WatchLoop? = nil
    ) -> StateWatch<State> {
        let (since, everyVersion) = delivery.followerParameters
        let place = place
        let backend: any StoreBackend<State>
        if let loop, case .files(let handle) = place { backend = FileBackend<State>(handle: handle, loop: loop) } else { backend = self.backend }
        return StateWatch(acknowledgement: acknowledgement) {
            let buffer = WatchEventBuffer<State>(coalesce: delivery == .latest)
            let registrar = WatchRegistrar()
            var register: (@Sendable () -> Void)?
            if let label {
                register = {
                    // Said once, as an event: the watch goes on, unregistered.
                    if let failure = registrar.register(place, label: label) { buffer.push(.problem(failure)) }
                }
            }
            let request = FollowRequest<State>(since: since, everyVersion: everyVersion, options: options, beforeFirstRead: register) { event in
                registrar.slot?.observe(event)
                buffer.push(event)
            }
            return WatchLifetime(follower: backend.follow(request), buffer: buffer, registrar: registrar)
        }
    }

    /// The store's versions as they are committed: the current one first, then each new one, as
    /// `delivery` chooses. Versions rise strictly (within one store identity). Problems are not
    /// in this sequence: a version that cannot be used (a state that does not decode as `State`)
    /// is passed over, and the last good one stays the newest delivered. To be told, use
    /// ``checkedSnapshots(_:label:acknowledgement:options:)`` (which throws at such a version),
    /// ``watch(_:label:acknowledgement:options:)`` (a ``WatchEvent/problem(_:)`` event), or a
    /// ``StateReader``'s ``StateReader/problem`` and ``StateReader/checked(_:)``.
    @available(*, deprecated, message: "Use StateObservation(delivery, label:, acknowledgement:, options:).values(in: store)")
    public func snapshots(
        _ delivery: WatchDelivery = .latest, label: String? = nil, acknowledgement: WatchAcknowledgement = .manual,
        options: WatchOptions = WatchOptions()
    ) -> StateSnapshots<State> {
        StateSnapshots(watch: makeWatch(delivery, label: label, acknowledgement: acknowledgement, options: options))
    }

    /// A reader that keeps the newest snapshot in memory: ``StateObservation/reader(in:onEvent:)-7oc6k``.
    @available(*, deprecated, message: "Use StateObservation(label:, options:).reader(in: store, onEvent:)")
    public func reader(
        label: String? = nil, options: WatchOptions = WatchOptions(), onEvent: (@Sendable (WatchEvent<State>) -> Void)? = nil
    ) async throws(StateStoreError) -> StateReader<State> {
        try await openReader(label: label, options: options, onEvent: onEvent)
    }

    /// The synchronous form of the deprecated asynchronous `reader(label:options:onEvent:)`.
    @available(*, deprecated, message: "Use StateObservation(label:, options:).reader(in: store, onEvent:)")
    @_disfavoredOverload
    public func reader(
        label: String? = nil, options: WatchOptions = WatchOptions(), onEvent: (@Sendable (WatchEvent<State>) -> Void)? = nil
    ) throws(StateStoreError) -> StateReader<State> {
        try openReader(label: label, options: options, onEvent: onEvent)
    }

    /// Opens a ``StateReader`` (see ``StateObservation/reader(in:onEvent:)-7oc6k``), off the cooperative pool.
    func openReader(
        label: String?, options: WatchOptions, onEvent: (@Sendable (WatchEvent<State>) -> Void)?
    ) async throws(StateStoreError) -> StateReader<State> {
        let backend = backend
        let place = place
        let name = name
        return try await io.run { () throws(StateStoreError) in
            try StateReader.open(backend, place: place, name: name, label: label, options: options, onEvent: onEvent, observer: nil)
        }
    }

    func openReader(
        label: String?, options: WatchOptions, onEvent: (@Sendable (WatchEvent<State>) -> Void)?
    ) throws(StateStoreError) -> StateReader<State> {
        try StateReader.open(backend, place: place, name: name, label: label, options: options, onEvent: onEvent, observer: nil)
    }

    /// For the benchmark: a reader without a callback (as a tick loop uses it) that also passes
    /// each snapshot it stores to `observer`, inline on the storing thread — the watch loop's for
    /// small files — so that the time `current` began to return a version can be recorded
    /// without waking another thread. Not for applications: a slow observer delays every watcher
    /// in the process.
    @_spi(Benchmark)
    public func reader(
        label: String? = nil, options: WatchOptions = WatchOptions(),
        observingStores observer: @escaping @Sendable (StateSnapshot<State>) -> Void
    ) throws(StateStoreError) -> StateReader<State> {
        try StateReader.open(backend, place: place, name: name, label: label, options: options, onEvent: nil, observer: observer)
    }

    /// How a watcher of this store would learn of new versions here: inotify, or polling and why.
    /// Arms and releases a watch to find out (a hop to the watch loop's thread).
    public func supportedWatchMode(options: WatchOptions = WatchOptions()) async -> WatchMode {
        let backend = backend
        return await io.run { backend.supportedWatchMode(options: options) }
    }

    /// The synchronous form of ``supportedWatchMode(options:)``.
    @_disfavoredOverload
    public func supportedWatchMode(options: WatchOptions = WatchOptions()) -> WatchMode {
        backend.supportedWatchMode(options: options)
    }
}
