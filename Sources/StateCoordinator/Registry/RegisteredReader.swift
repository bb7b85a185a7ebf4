import Foundation

/// A reader registered in a store's reader registry (`NAME.readers/`), as its record says: who it
/// is, the version it has loaded, the version its application has applied, and the last version
/// it rejected. Only live readers are listed (a reader is live while it holds the shared lock on
/// its entry; the kernel drops that lock when the process dies, whatever the signal).
public struct RegisteredReader: Sendable, Equatable {
    /// A version a reader reached, and when.
    public struct Mark: Sendable, Equatable {
        /// The version.
        public var version: UInt64
        /// When the reader reached it (its own clock).
        public var at: Date

        /// Creates a mark.
        public init(version: UInt64, at: Date) {
            self.version = version
            self.at = at
        }
    }

    /// A version a reader could not use (a NACK), and why.
    public struct Rejection: Sendable, Equatable {
        /// The version rejected.
        public var version: UInt64
        /// When it was rejected.
        public var at: Date
        /// The reader's error, as text.
        public var error: String

        /// Creates a rejection.
        public init(version: UInt64, at: Date, error: String) {
            self.version = version
            self.at = at
            self.error = error
        }
    }

    /// The entry's name in the registry (`PID-RANDOM`), unique for ever: a later process that
    /// gets the same pid gets another entry.
    public var id: String
    /// The label the reader registered with (a bot's name); several readers may share one.
    /// Any user may register any label: the ``owner`` says who the reader really is.
    public var label: String
    /// The user the reader runs as: the owner of both its lock file and its record, which the
    /// lister checks are the same user (an entry whose files belong to different users is
    /// listed as invalid, never as a reader). Unlike the label, pid and host, which the reader
    /// writes, no other user can forge it.
    public var owner: UInt32?
    /// The ``owner``'s user name, when the system knows it.
    public var ownerName: String?
    /// The reader's process id.
    public var processID: Int32
    /// The reader's host name.
    public var hostName: String
    /// When the reader registered.
    public var registeredAt: Date
    /// The identity of the store the versions below belong to (nil before the first load).
    public var storeID: String?
    /// The newest version the reader has loaded (the library reports this).
    public var loaded: Mark?
    /// The newest version the application has applied (it reports this with `acknowledge`).
    public var applied: Mark?
    /// The last version the reader rejected, with its error (for example a state that does not
    /// decode as the reader's type).
    public var rejected: Rejection?
    /// When the record was last written.
    public var updatedAt: Date
    /// How the reader reaches the store: ``ReaderConnection/local`` for a store in a directory;
    /// on etcd, ``ReaderConnection/direct`` or ``ReaderConnection/mirror`` (behind its host's
    /// mirror, ``hostName``'s).
    public var connection: ReaderConnection = .local
    /// Why the entry is listed without all of this (its record cannot be read, or whether it is
    /// alive cannot be told from here); nil when everything above is known.
    public var problem: String?

    /// Creates a description of a registered reader.
    public init(
        id: String, label: String, processID: Int32, hostName: String, registeredAt: Date, storeID: String?,
        loaded: Mark?, applied: Mark?, rejected: Rejection?, updatedAt: Date, problem: String? = nil,
        owner: UInt32? = nil, ownerName: String? = nil
    ) {
        self.problem = problem
        self.owner = owner
        self.ownerName = ownerName
        self.id = id
        self.label = label
        self.processID = processID
        self.hostName = hostName
        self.registeredAt = registeredAt
        self.storeID = storeID
        self.loaded = loaded
        self.applied = applied
        self.rejected = rejected
        self.updatedAt = updatedAt
    }

    /// `label@user` (or `label@uid` when the user has no name; the label alone when the owner is
    /// unknown): how the reader is named to an operator, and how `--await-ack` selects it.
    public var qualifiedLabel: String {
        guard let owner else { return label }
        return label + "@" + (ownerName ?? String(owner))
    }

    /// Whether the reader has applied `version` of store `storeID`, or a newer one.
    public func hasApplied(_ version: UInt64, storeID: String) -> Bool {
        guard let applied, self.storeID == storeID else { return false }
        return applied.version >= version
    }

    /// Whether the reader rejected `version` of store `storeID` (or a newer one) and has not
    /// applied it since.
    public func hasRejected(_ version: UInt64, storeID: String) -> Bool {
        guard let rejected, self.storeID == storeID else { return false }
        return rejected.version >= version && !hasApplied(version, storeID: storeID)
    }

    /// Whether the reader currently rejects a version newer than the one it applied.
    public var isRejecting: Bool {
        guard let rejected else { return false }
        guard let applied else { return true }
        return rejected.version > applied.version
    }
}
