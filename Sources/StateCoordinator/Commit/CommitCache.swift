import Synchronization

/// The version this process committed last, kept so that its next commit need not re-read,
/// re-verify and re-decode the state file when nobody has touched it since.
///
/// "Untouched" is judged as ``SeenVersion`` judges it: the file at the name has the device,
/// inode, size and change time the committed file had right after the rename (taken with the
/// writer lock held), and its header carries the same store, version, size and checksum. Inode
/// numbers alone would be fooled by another writer's same-size commits within one tick of the
/// change time (ext4 reuses a freed inode number at once); the header is not.
final class CommitCache<State: Sendable>: Sendable {
    struct Entry: Sendable {
        /// The committed file as it was right after the rename.
        var seen: SeenVersion
        var header: StateFileHeader
        var status: FileStatus
        var state: State
    }

    private let entry = Mutex<Entry?>(nil)

    /// The cached version, if `file` (the state file just opened) is still the committed one.
    func entry(matching file: PinnedFile?, calls: SystemCalls) -> Entry? {
        guard let file, let cached = entry.withLock({ $0 }) else { return nil }
        return cached.seen.matches(file, calls: calls) ? cached : nil
    }

    func store(_ new: Entry?) {
        entry.withLock { $0 = new }
    }
}
