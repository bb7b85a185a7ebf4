/// What a look at a store's reader registry found: the readers that count, and everything in
/// the registry that does not, with why. ``ReadableStateStore/readerListing()-5hfnt`` returns it.
public struct ReaderListing: Sendable, Equatable {
    /// Live readers that count: every live entry whose files belong to one user, among the
    /// store's ``StoreSettings/readerUsers`` when it names any. Oldest registration first.
    public var readers: [RegisteredReader]
    /// Live readers run by a user the store's ``StoreSettings/readerUsers`` does not name:
    /// listed, never counted (an acknowledgement wait ignores them).
    public var notCounted: [RegisteredReader]
    /// Entries that are no reader's: a lock file that is not a regular file, files of two users,
    /// a record naming another entry. Each is removed by a lister that may remove it.
    public var invalid: [InvalidReaderEntry]
    /// How many entries the registry holds, and how many were looked at: no more than
    /// ``ReaderListing/maximumConsidered``, taken from every user in turn (the users with the
    /// fewest entries first), so that one user's flood of entries neither slows every lister
    /// down nor hides another user's readers.
    public var entryCount: Int
    /// How many of ``entryCount`` were looked at.
    public var considered: Int
    /// On etcd: hosts whose readers' state is unknown (their mirror, or every direct reader of
    /// theirs, lost its lease while the roster still names them). Their readers are in none of
    /// the lists above. Empty for a store in a directory.
    public var unreachableHosts: [UnreachableHost] = []
    /// On etcd: readers whose lease is gone while their host is still heard from (its mirror, or
    /// another direct reader there, is live): dead, most likely, or cut off just now with the rest
    /// of their host. Their roster entries are removed once that has held for their lease's TTL
    /// (by a process on their host, or a writer's acknowledgement wait). Never counted as applied.
    public var leaseLost: [RegisteredReader] = []
    /// Set when the listing stopped before it looked at every entry it meant to (its caller's
    /// deadline passed): the readers above are then not all of them.
    public var stoppedEarly: Bool

    /// The most entries one listing looks at.
    public static let maximumConsidered = 4096

    /// Creates a listing.
    public init(
        readers: [RegisteredReader] = [], notCounted: [RegisteredReader] = [], invalid: [InvalidReaderEntry] = [],
        entryCount: Int = 0, considered: Int = 0, stoppedEarly: Bool = false
    ) {
        self.readers = readers
        self.notCounted = notCounted
        self.invalid = invalid
        self.entryCount = entryCount
        self.considered = considered
        self.stoppedEarly = stoppedEarly
    }

    /// Whether every entry was looked at.
    public var isComplete: Bool { considered == entryCount && !stoppedEarly }

    /// Why the listing is not complete, in one line for an operator; nil when it is.
    public var incompleteness: String? {
        if stoppedEarly { return "the registry listing stopped at its deadline after \(considered) of \(entryCount) entries" }
        guard considered < entryCount else { return nil }
        return "the registry holds \(entryCount) entries, more than the \(considered) looked at: "
            + "someone is flooding NAME.readers/ (see invalid and not-counted entries, and each entry's owner)"
    }
}

/// A registry entry that is not a reader, and why.
public struct InvalidReaderEntry: Sendable, Equatable {
    /// The entry's ID (the name of its lock file without `.lock`).
    public var id: String
    /// The user owning its lock file, when it is a file at all.
    public var owner: UInt32?
    /// Why it is not a reader.
    public var reason: String

    /// Creates a description of an invalid entry.
    public init(id: String, owner: UInt32?, reason: String) {
        self.id = id
        self.owner = owner
        self.reason = reason
    }
}
