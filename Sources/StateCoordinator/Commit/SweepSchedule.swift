import Synchronization

/// When a commit lists the store directory for orphans.
///
/// An orphan is a temp file of a writer that died holding the lock. Correctness never depends
/// on the sweep (an orphan is only space), only the commit's cost does; so a process lists the
/// directory on its first commit, on the first commit after the directory was replaced or a
/// commit failed, and then at most once a second, whoever else committed meanwhile: an orphan
/// stays at most a second behind a live writer. (Listing whenever the directory's times had
/// changed since this process last released the lock cost writers taking turns a listing on
/// every commit: two `getdents64` and the opens around them, for an orphan that is almost never
/// there.)
final class SweepSchedule: Sendable {
    /// How long a listing may be skipped at most.
    static var longestSkip: Duration { .seconds(1) }

    private struct Seen {
        var device: UInt64
        var inode: UInt64
        var listedAt: ContinuousClock.Instant
    }

    private let seen = Mutex<Seen?>(nil)

    /// Whether the directory (as `fstat` shows it with the lock held) must be listed.
    func needsListing(_ directory: FileStatus?, now: ContinuousClock.Instant = .now) -> Bool {
        guard let directory, let last = seen.withLock({ $0 }) else { return true }
        return directory.device != last.device || directory.inode != last.inode || now - last.listedAt >= Self.longestSkip
    }

    /// Notes the directory the lock hold was in, just before the lock is released. `listed`: this
    /// hold listed it (else the time of the last listing is kept).
    func noteReleasing(_ directory: FileStatus?, listed: Bool, now: ContinuousClock.Instant = .now) {
        seen.withLock { seen in
            guard let directory, let listedAt = listed ? now : seen?.listedAt else { return seen = nil }
            seen = Seen(device: directory.device, inode: directory.inode, listedAt: listedAt)
        }
    }

    /// Forgets what was seen: the next commit lists (after a failed commit).
    func forget() { seen.withLock { $0 = nil } }
}
