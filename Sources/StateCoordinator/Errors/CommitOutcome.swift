/// What became of a commit whose rename or directory fsync failed: a file system can report an
/// error for a rename that took effect, so the store looks before it says.
public enum CommitOutcome: String, Sendable, CustomStringConvertible {
    /// The state file is still the previous version: retrying is safe.
    case notCommitted = "not committed"
    /// The state file is the new version: readers see it, but it may not survive a power loss.
    /// Do not retry a non-idempotent update (an increment would apply twice).
    case committedDurabilityUnknown = "committed, durability unknown"
    /// The store could not find out (the state file could not be examined): read the current
    /// version before deciding whether to retry.
    case unknown = "unknown"

    /// The outcome as it appears in messages.
    public var description: String { rawValue }
}
