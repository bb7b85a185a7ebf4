/// What a store does, whatever keeps its versions: the seam between the public store types
/// (``ReadableStateStore``, ``StateStore``) and where the versions live. ``FileBackend`` keeps
/// them in files on one host (the on-disk protocol); a backend on etcd plugs in beside it.
///
/// A backend commits a batch of updates against its newest version (``BatchPlan`` decides what
/// the batch makes of it; the backend makes that version, or fails each update), reads the newest
/// version, lists and reads the versions it keeps, follows new versions, holds the reader
/// registry and reports its health. Every method may block: callers run them off the
/// cooperative pool.
protocol StoreBackend<State>: Sendable {
    associatedtype State: Codable & Sendable

    /// Commits `batch` against the newest version and answers every update in it (each with the
    /// snapshot it was committed in, or its error). Updates are applied in call order; a
    /// compare-and-swap update names the version it expects.
    func commit(_ batch: [PendingUpdate<State>])

    /// The newest version, verified and decoded.
    func readNewest() throws(StateStoreError) -> StateSnapshot<State>

    /// The versions kept, oldest first.
    func historyListing() throws(StateStoreError) -> HistoryListing

    /// A kept version, verified and decoded (`notFound` when it is not kept).
    func readKept(version: UInt64) throws(StateStoreError) -> StateSnapshot<State>

    /// Follows new versions: `sink` gets the newest version (or, with `since`, every version
    /// after it), then each new one, and every problem, until the returned follow is stopped.
    func follow(
        since: UInt64?, everyVersion: Bool, options: WatchOptions, sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) -> any BackendFollow

    /// The registered readers.
    func readerListing() throws(StateStoreError) -> ReaderListing

    /// What is wrong with the store, if anything.
    func verify() -> VerificationReport
}

/// A running follow of a ``StoreBackend``.
protocol BackendFollow: Sendable {
    /// Stops delivering; nothing is delivered after it returns.
    func stop()
}
