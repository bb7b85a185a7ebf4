/// What a wait for acknowledgements found: who applied the version, who is lagging, who
/// rejected it, and who died meanwhile.
public struct AcknowledgementReport: Sendable, Equatable {
    /// The version waited for.
    public var version: UInt64
    /// The identity of the store it belongs to.
    public var storeID: String
    /// Readers that applied the version, or a newer one.
    public var applied: [RegisteredReader]
    /// Live readers that had not applied it when the wait ended (their records give the
    /// versions they loaded and applied).
    public var lagging: [RegisteredReader]
    /// Readers that rejected it (or a newer version) and have not applied it: their record's
    /// ``RegisteredReader/rejected`` gives the error.
    public var rejected: [RegisteredReader]
    /// Readers that were live when the wait started and died before applying the version. They
    /// are reported, not counted as lagging.
    public var died: [RegisteredReader]
    /// Labels asked for (as `label@user` when a user was asked for) that no counted live reader
    /// had when the wait ended.
    public var missingLabels: [String]
    /// Live readers with a label asked for (every live reader, for ``ReaderSelection/all``) that
    /// were not waited for: run by another user than the one asked for, or by a user the store's
    /// ``StoreSettings/readerUsers`` does not name, or whose record turned out to be another
    /// user's. Their acknowledgements never count; an operator should know who they are.
    public var ignored: [RegisteredReader]
    /// On etcd: readers waited for whose state became unknown (their host's mirror, or their own
    /// lease, lost while their host has nothing else reachable) and did not come back before the
    /// wait ended: neither applied nor dead. ``unreachableHosts`` groups them by host.
    public var unreachable: [RegisteredReader] = []
    /// The hosts of ``unreachable``, with when each was last heard of.
    public var unreachableHosts: [UnreachableHost] = []
    /// Whether the wait ended because its timeout passed (or it was cancelled) with readers lagging.
    public var timedOut: Bool
    /// How long the wait took.
    public var waited: Duration
    /// Why the registry could not be read (say, `NAME.readers` is not a directory), when it
    /// could not: nobody could then be counted, and the report is not complete.
    public var problem: String?

    /// Creates a report.
    public init(
        version: UInt64, storeID: String, applied: [RegisteredReader] = [], lagging: [RegisteredReader] = [],
        rejected: [RegisteredReader] = [], died: [RegisteredReader] = [], missingLabels: [String] = [],
        timedOut: Bool = false, waited: Duration = .zero, problem: String? = nil, ignored: [RegisteredReader] = []
    ) {
        self.problem = problem
        self.ignored = ignored
        self.version = version
        self.storeID = storeID
        self.applied = applied
        self.lagging = lagging
        self.rejected = rejected
        self.died = died
        self.missingLabels = missingLabels
        self.timedOut = timedOut
        self.waited = waited
    }

    /// Whether every reader waited for applied the version: none lagging, none rejecting, no
    /// label missing, no reader's state unknown, and the registry readable. (Readers that died are not waited for.)
    public var isComplete: Bool {
        lagging.isEmpty && rejected.isEmpty && missingLabels.isEmpty && unreachable.isEmpty && problem == nil
    }
}
