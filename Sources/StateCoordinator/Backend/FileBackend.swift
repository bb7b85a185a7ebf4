/// The store kept in files on one host, as the on-disk protocol describes (<doc:OnDiskProtocol>):
/// commits under `flock(2)` with an atomic rename, lock-free reads, history as hard links,
/// following through inotify, the registry as a directory of lock files.
struct FileBackend<State: Codable & Sendable>: StoreBackend {
    let handle: StoreHandle
    /// The version this process committed last, so that the next commit need not read it back.
    let cache = CommitCache<State>()

    func commit(_ batch: [PendingUpdate<State>]) {
        BatchCommit<State>(handle: handle, cache: cache).run(batch)
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

    func follow(
        since: UInt64?, everyVersion: Bool, options: WatchOptions, sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) -> any BackendFollow {
        let follower = StateFollower<State>(handle: handle, options: options, since: since, everyVersion: everyVersion, sink: sink)
        follower.start()
        return follower
    }

    func readerListing() throws(StateStoreError) -> ReaderListing {
        try ReaderRegistry(handle).listing(readerUsers: handle.currentReaderUsers())
    }

    func verify() -> VerificationReport {
        StoreVerifier(handle: handle).run()
    }
}

extension StateFollower: BackendFollow {}
