/// A state file kept open, and the status it had when it was read.
///
/// Identity shortcuts ("is the file at the name still the one I read?") compare device and inode
/// numbers. Those are only trustworthy for a file this process keeps open: ext4 hands a freed
/// inode number to the next file at once, and the change time moves in ticks of 1–4 ms, so two
/// same-size commits by another process within one tick can look like the file last read. While
/// the descriptor is open the inode cannot be freed, so a file at the name with the same device
/// and inode *is* this file. The descriptor is closed when the last holder drops it.
final class PinnedFile: Sendable {
    /// The open descriptor (read-only).
    let descriptor: CInt
    /// The file's status when it was opened.
    let status: FileStatus
    private let calls: SystemCalls

    init(descriptor: CInt, status: FileStatus, calls: SystemCalls) {
        self.descriptor = descriptor
        self.status = status
        self.calls = calls
    }

    /// Whether a file just opened at the name (with status `other`) is this one, unchanged: the
    /// same device and inode (which an open descriptor pins), size and change time (which an
    /// in-place write would move).
    func isUnchanged(_ other: FileStatus) -> Bool {
        other.device == status.device && other.inode == status.inode && other.size == status.size
            && other.changeTimeNanoseconds == status.changeTimeNanoseconds
    }

    deinit { try? calls.close(descriptor) }
}
