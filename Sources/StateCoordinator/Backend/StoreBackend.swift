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

    /// The newest version, verified and decoded, and what a follow needs to know that the
    /// subscriber holds it (so that it does not deliver it again).
    func readNewestHeld() throws(StateStoreError) -> (snapshot: StateSnapshot<State>, held: HeldVersion)

    /// Follows new versions as `request` says, until the returned follow is stopped.
    func follow(_ request: FollowRequest<State>) -> any BackendFollow

    /// How this backend would learn of new versions with `options` (never on the watch loop's thread).
    func supportedWatchMode(options: WatchOptions) -> WatchMode

    /// The registered readers.
    func readerListing() throws(StateStoreError) -> ReaderListing

    /// What is wrong with the store, if anything.
    func verify() -> VerificationReport
}

/// A version a subscriber holds when it starts following, in the backend's terms.
struct HeldVersion: Sendable {
    var version: UInt64
    var storeID: String
    /// For a file backend: the file it was read from (its identity and header).
    var file: SeenVersion?
    /// For a backend on etcd: the revision that wrote it (a watch starts after it).
    var revision: Int64? = nil
}

/// What a follow is asked for: `sink` gets the newest version (or, with `since`, every version
/// after it; or, `holding` one, only the ones after it), then each new one, and every problem.
struct FollowRequest<State: Codable & Sendable>: Sendable {
    var since: UInt64?
    /// Fill versions a burst coalesced away from history, reporting gaps.
    var everyVersion: Bool
    var options: WatchOptions
    /// The version the subscriber holds already.
    var holding: HeldVersion?
    /// Runs before the first read, off the caller's thread (a watch registers its reader there).
    var beforeFirstRead: (@Sendable () -> Void)?
    /// The version held verified again after a problem (no event is due: it is not new).
    var verifiedAgain: (@Sendable () -> Void)?
    var sink: @Sendable (WatchEvent<State>) -> Void

    init(
        since: UInt64? = nil, everyVersion: Bool = false, options: WatchOptions, holding: HeldVersion? = nil,
        beforeFirstRead: (@Sendable () -> Void)? = nil, verifiedAgain: (@Sendable () -> Void)? = nil,
        sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) {
        self.since = since
        self.everyVersion = everyVersion || since != nil
        self.options = options
        self.holding = holding
        self.beforeFirstRead = beforeFirstRead
        self.verifiedAgain = verifiedAgain
        self.sink = sink
    }
}

/// A running follow of a ``StoreBackend``.
protocol BackendFollow: AnyObject, Sendable {
    /// Stops delivering; nothing is delivered after it returns.
    func stop()
    /// How the follow learns of new versions.
    var mode: WatchMode { get }
    /// Its counters.
    var statistics: WatchStatistics { get }
}
