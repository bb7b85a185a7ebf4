/// What became of a request a lock holder claimed (`ID.B.claim`) and never answered: it died, or
/// lost its lock. Decided by the next holder, with the lock, from the versions since `B` — the
/// pure half, tested on its own; ``QueueRound`` acts on it.
enum ClaimSettlement: Equatable {
    /// A version includes it: answer committed, with the current version (which includes it).
    case committed
    /// No version includes it: back in the queue, to be committed once.
    case notCommitted
    /// Nobody can tell: answered so, never committed again (at most once).
    case unknown(String)

    /// Decides from the current version's header and, when more than one version followed `B`,
    /// the kept ones (`kept` returns a kept version's header, nil when it is not kept).
    ///
    /// The holder that claimed at `B` commits version `B + 1` listing the IDs it includes (or, when
    /// the combined state was refused, several versions, each listing its own). So: still at `B`,
    /// nothing was committed; an ID listed in the current header is committed (a writer that
    /// carries the list forward keeps it true); at `B + 1` without it, that version is another
    /// writer's, so the claim's holder never renamed. Further on, each version in between must be
    /// looked at: every one kept and none listing it means not committed.
    static func decide(id: String, base: UInt64, current: StateFileHeader, kept: (UInt64) -> StateFileHeader?) -> ClaimSettlement {
        if current.version == base { return .notCommitted }
        guard current.version > base else {
            return .unknown("the store is at version \(current.version), before the version \(base) it was taken at: it was re-created")
        }
        if current.combined?.contains(id) == true { return .committed }
        if current.version == base + 1 { return .notCommitted }
        var version = base + 1
        while version < current.version {
            guard let header = kept(version) else {
                return .unknown("versions \(base + 1)…\(current.version) followed its holder's death, and version \(version) is not kept to say")
            }
            if header.combined?.contains(id) == true { return .committed }
            version += 1
        }
        return .notCommitted
    }
}
