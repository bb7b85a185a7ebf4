/// What ``StateStore/verify()`` found: damage, which needs an operator, and leftovers of a
/// crash or of a commit in flight, which the next commit repairs by itself.
public struct VerificationReport: Sendable, Equatable {
    /// Problems that make the store unusable or untrustworthy (a bad checksum, a missing
    /// lockfile, a history entry newer than the current version…), one sentence each.
    public var damage: [String] = []
    /// Harmless leftovers the next commit repairs (a temp file of a writer that died, a history
    /// entry of the current version, one entry over `keepHistory`), one sentence each.
    public var leftovers: [String] = []
    /// The current version, when the state file verified.
    public var currentVersion: UInt64?

    /// Whether nothing is damaged (leftovers are allowed).
    public var isHealthy: Bool { damage.isEmpty }

    /// An empty report.
    public init() {}
}
