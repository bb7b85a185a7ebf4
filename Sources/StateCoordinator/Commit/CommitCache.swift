import Synchronization

/// The version this process committed last, kept so that its next commit need not re-read,
/// re-verify and re-decode the state file when nobody has touched it since.
///
/// "Untouched" is judged by the file's device, inode, size and change time (`st_ctime`, which any
/// rename, write or link of the file moves), taken with the writer lock held right after the
/// rename. Any other writer's commit brings a new inode; a foreign in-place write moves the change
/// time; either makes the next commit read and verify the file as usual.
final class CommitCache<State: Sendable>: Sendable {
    struct Entry: Sendable {
        var identity: FileIdentity
        var header: StateFileHeader
        var status: FileStatus
        var state: State
    }

    private let entry = Mutex<Entry?>(nil)

    /// The cached version, if the file still has this identity.
    func entry(matching identity: FileIdentity?) -> Entry? {
        guard let identity else { return nil }
        return entry.withLock { $0?.identity == identity ? $0 : nil }
    }

    func store(_ new: Entry?) {
        entry.withLock { $0 = new }
    }
}
