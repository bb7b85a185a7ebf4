/// The kept past versions of a store, newest first: those that verify, and those that do not.
public struct HistoryListing: Sendable, Equatable {
    /// The kept versions that verify, newest first.
    public var entries: [HistoryEntry]
    /// The kept versions that do not (damaged bytes, or unreadable), newest first. The current
    /// state and the other entries are not affected by them.
    public var damaged: [DamagedHistoryEntry]

    /// A listing, for instance a fake one in your own tests.
    public init(entries: [HistoryEntry], damaged: [DamagedHistoryEntry]) {
        self.entries = entries
        self.damaged = damaged
    }
}

/// A kept version that fails verification or cannot be read.
public struct DamagedHistoryEntry: Sendable, Equatable {
    /// The version its file name gives.
    public var version: UInt64
    /// The entry's path.
    public var path: String
    /// Why it cannot be used.
    public var reason: String

    /// A damaged entry, for instance a fake one in your own tests.
    public init(version: UInt64, path: String, reason: String) {
        self.version = version
        self.path = path
        self.reason = reason
    }
}
