extension StateStore {
    /// Every event of a watch on this store: each new version (the current one first) and every
    /// problem on the way (unverifiable files, resets, the store going away).
    ///
    /// - Parameters:
    ///   - since: replay kept versions after this one first, then follow live; implies every version.
    ///   - everyVersion: deliver every version: the ones a burst coalesced away are filled in from
    ///     history while they are kept, and reported as ``WatchEvent/gap(missing:)`` when they are
    ///     not. Otherwise a slow consumer gets only the newest version.
    ///   - options: notification, polling and consistency-check settings.
    /// - Returns: a sequence each of whose iterators starts a watch of its own when it is made.
    public func watch(since: UInt64? = nil, everyVersion: Bool = false, options: WatchOptions = WatchOptions()) -> StateWatch<State> {
        watch(since: since, everyVersion: everyVersion, options: options, hub: .shared)
    }

    /// ``watch(since:everyVersion:options:)`` on a given hub (tests use a scripted one).
    func watch(since: UInt64?, everyVersion: Bool, options: WatchOptions, hub: WatchHub) -> StateWatch<State> {
        let coalesce = since == nil && !everyVersion
        let handle = handle
        return StateWatch {
            let buffer = WatchEventBuffer<State>(coalesce: coalesce)
            let follower = StateFollower<State>(
                handle: handle, options: options, since: since, everyVersion: everyVersion, hub: hub
            ) { buffer.push($0) }
            let lifetime = WatchLifetime(follower: follower, buffer: buffer)
            follower.start()
            return lifetime
        }
    }

    /// The store's versions as they are committed: the current one first, then each new one.
    /// A slow consumer gets the newest version, not a backlog; versions rise strictly (within
    /// one store identity). Problems are not in this sequence: use ``watch(since:everyVersion:options:)``.
    ///
    /// - Parameters:
    ///   - since: replay the kept versions after this one first (gapless while kept).
    ///   - options: notification, polling and consistency-check settings.
    public func snapshots(since: UInt64? = nil, options: WatchOptions = WatchOptions()) -> StateSnapshots<State> {
        StateSnapshots(watch: watch(since: since, options: options))
    }

    /// A reader that keeps the newest snapshot in memory for hot paths.
    ///
    /// - Parameters:
    ///   - options: notification, polling and consistency-check settings.
    ///   - onEvent: optional callback for code that isn't async; runs on a serial queue of the
    ///     reader's own, after ``StateReader/current`` was updated. It sees the versions after the
    ///     one ``StateReader/current`` holds when this method returns (and every problem).
    /// - Throws: what ``read()`` throws, for the first snapshot.
    public func reader(
        options: WatchOptions = WatchOptions(), onEvent: (@Sendable (WatchEvent<State>) -> Void)? = nil
    ) throws(StateStoreError) -> StateReader<State> {
        try makeReader(options: options, onEvent: onEvent, observer: nil)
    }

    /// For the benchmark: a reader without a callback (as a tick loop uses it) that also passes
    /// each snapshot it stores to `observer`, inline on the storing thread — the watch hub's for
    /// small files — so that the time `current` began to return a version can be recorded
    /// without waking another thread. Not for applications: a slow observer delays every watcher
    /// in the process.
    @_spi(Benchmark)
    public func reader(
        options: WatchOptions = WatchOptions(), observingStores observer: @escaping @Sendable (StateSnapshot<State>) -> Void
    ) throws(StateStoreError) -> StateReader<State> {
        try makeReader(options: options, onEvent: nil, observer: observer)
    }

    private func makeReader(
        options: WatchOptions, onEvent: (@Sendable (WatchEvent<State>) -> Void)?,
        observer: (@Sendable (StateSnapshot<State>) -> Void)?
    ) throws(StateStoreError) -> StateReader<State> {
        let file = try handle.readCurrent()
        return StateReader(
            handle: handle, initial: try file.snapshot(as: State.self, path: stateFilePath),
            initialFile: SeenVersion(status: file.status, header: file.header), options: options, onEvent: onEvent, observer: observer)
    }
}
