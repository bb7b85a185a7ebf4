import Synchronization

/// When a commit may skip the orphan sweep's directory listing.
///
/// An orphan is a temp file of a writer that died holding the lock. Creating it changed the
/// store directory's modification and change times, so while the directory's status is exactly
/// what this process saw when it last released the lock, no writer has created a file there
/// since, and a listing would find nothing new. A file system's coarse timestamps can hide a
/// change made within one clock tick of that look; so the listing is also made at least once a
/// second, and an orphan waits at most that long. Correctness never depends on the sweep (an
/// orphan is only space), only the commit's cost does: a writer alone skips the listing (two
/// `getdents64` and the opens around them); writers taking turns change the directory every
/// commit and list it every time.
final class SweepSchedule: Sendable {
    /// How long a listing may be skipped at most.
    static var longestSkip: Duration { .seconds(1) }

    private struct Seen {
        var device: UInt64
        var inode: UInt64
        var modified: Int64
        var changed: Int64
        var listedAt: ContinuousClock.Instant
    }

    private let seen = Mutex<Seen?>(nil)

    /// Whether the directory (as `fstat` shows it with the lock held) must be listed.
    func needsListing(_ directory: FileStatus?, now: ContinuousClock.Instant = .now) -> Bool {
        guard let directory, let last = seen.withLock({ $0 }) else { return true }
        return directory.device != last.device || directory.inode != last.inode
            || directory.modificationTimeNanoseconds != last.modified || directory.changeTimeNanoseconds != last.changed
            || now - last.listedAt >= Self.longestSkip
    }

    /// Notes the directory's status just before the lock is released. `listed`: this hold listed
    /// it (else the time of the last listing is kept).
    func noteReleasing(_ directory: FileStatus?, listed: Bool, now: ContinuousClock.Instant = .now) {
        seen.withLock { seen in
            guard let directory, let listedAt = listed ? now : seen?.listedAt else { return seen = nil }
            seen = Seen(
                device: directory.device, inode: directory.inode, modified: directory.modificationTimeNanoseconds,
                changed: directory.changeTimeNanoseconds, listedAt: listedAt)
        }
    }

    /// Forgets what was seen: the next commit lists (after a failed commit).
    func forget() { seen.withLock { $0 = nil } }
}
