import Synchronization

/// The version this process committed last, kept so that its next commit need not re-read,
/// re-verify and re-decode the state file when nobody has touched it since.
///
/// "Untouched" is judged by the file at the name having the device and inode of the file this
/// process committed, which it keeps open (so the inode number cannot have been handed to
/// another writer's file: ext4 reuses a freed one at once, see ``PinnedFile``), and the size and
/// change time it had right after the rename (a foreign in-place write moves them). Any other
/// writer's commit brings a new inode; either makes the next commit read and verify the file.
final class CommitCache<State: Sendable>: Sendable {
    struct Entry: Sendable {
        /// The committed file, kept open.
        var file: PinnedFile
        /// Its status right after the rename, with the writer lock held.
        var committed: FileStatus
        var header: StateFileHeader
        var status: FileStatus
        var state: State

        /// Whether the file now at the name (with status `now`) is the committed one, untouched.
        func matches(_ now: FileStatus) -> Bool {
            now.device == committed.device && now.inode == committed.inode && now.size == committed.size
                && now.changeTimeNanoseconds == committed.changeTimeNanoseconds
        }
    }

    private let entry = Mutex<Entry?>(nil)

    /// The cached version, if the file at the name is still the committed one.
    func entry(matching status: FileStatus?) -> Entry? {
        guard let status else { return nil }
        return entry.withLock { $0.flatMap { $0.matches(status) ? $0 : nil } }
    }

    func store(_ new: Entry?) {
        entry.withLock { $0 = new }
    }
}
