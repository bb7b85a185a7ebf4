/// Which versions a watch delivers: the one choice a consumer makes about buffering.
public enum WatchDelivery: Sendable, Equatable {
    /// The current version, then the newest one whenever the consumer asks: a slow consumer skips
    /// the versions committed meanwhile (the right choice for a halt flag or a limit, where only
    /// the newest value matters). Nothing is buffered but the newest version.
    case latest
    /// The current version, then every version after it: the ones a burst coalesced away are
    /// read back from history while they are kept, and reported as ``WatchEvent/gap(missing:)``
    /// when they are not (also when the consumer falls more than the buffer behind).
    case every
    /// Every version after this one, replayed from history first, then live as ``every``: for a
    /// consumer resuming where it stopped.
    case after(UInt64)

    /// The follower's parameters: the version to start after, and whether every version counts.
    var followerParameters: (since: UInt64?, everyVersion: Bool) {
        switch self {
        case .latest: (nil, false)
        case .every: (nil, true)
        case .after(let version): (version, true)
        }
    }
}
