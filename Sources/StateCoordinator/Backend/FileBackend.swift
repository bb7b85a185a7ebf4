/// The store kept in files on one host, as the on-disk protocol describes (<doc:OnDiskProtocol>):
/// commits under `flock(2)` with an atomic rename, lock-free reads, history as hard links,
/// following through inotify, the registry as a directory of lock files.
struct FileBackend<State: Codable & Sendable>: StoreBackend {
    let handle: StoreHandle
    /// The watch loop its follows subscribe to (tests use a scripted one).
    var loop: WatchLoop = .shared
    /// The version this process committed last, so that the next commit need not read it back.
    let cache = CommitCache<State>()
    /// When the next commit may skip listing the directory for orphans.
    let sweeps = SweepSchedule()
    /// The buffer commits encode the state into.
    let scratch = EncodingScratch()

    func commit(_ batch: [PendingUpdate<State>]) {
        BatchCommit<State>(handle: handle, cache: cache, sweeps: sweeps, scratch: scratch).run(batch)
    }

    func readNewest() throws(StateStoreError) -> StateSnapshot<State> {
        try handle.readSnapshot(as: State.self)
    }

    func historyListing() throws(StateStoreError) -> HistoryListing {
        try handle.historyListing()
    }

    func readKept(version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        try handle.snapshot(atVersion: version, as: State.self)
    }

    func readNewestHeld() throws(StateStoreError) -> (snapshot: StateSnapshot<State>, held: HeldVersion) {
        let file = try handle.readCurrent()
        let snapshot = try file.snapshot(as: State.self, path: handle.stateFilePath)
        return (snapshot, HeldVersion(version: snapshot.version, storeID: snapshot.storeID, file: SeenVersion(status: file.status, header: file.header)))
    }

    func follow(_ request: FollowRequest<State>) -> any BackendFollow {
        let follower = StateFollower<State>(
            handle: handle, options: request.options, since: request.since, everyVersion: request.everyVersion, loop: loop,
            verifiedAgain: request.verifiedAgain, sink: request.sink)
        if let held = request.holding, let file = held.file { follower.assumeHeld(file, version: held.version, storeID: held.storeID) }
        follower.start(beforeFirstRead: request.beforeFirstRead)
        return follower
    }

    func supportedWatchMode(options: WatchOptions) -> WatchMode {
        StateFollower<State>(handle: handle, options: options, since: nil, everyVersion: false, loop: loop) { _ in }.probeMode()
    }

    func readerListing() throws(StateStoreError) -> ReaderListing {
        try ReaderRegistry(handle).listing(readerUsers: handle.currentReaderUsers())
    }

    func verify() -> VerificationReport {
        StoreVerifier(handle: handle).run()
    }
}

extension StateFollower: BackendFollow {}
