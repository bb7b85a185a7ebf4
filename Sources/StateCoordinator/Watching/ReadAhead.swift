/// A version read from one of our temp files after its writer closed it and before the rename
/// that makes it current.
///
/// A writer of this package closes its temp file before fsyncing it, so the close
/// (`IN_CLOSE_WRITE`) says the next version is complete while the fsync still runs; a watcher
/// reads, verifies and decodes it then. When the state file's name arrives and the state file is
/// that very file, the version is delivered without reading it again. "That very file" is judged
/// by device and inode, which the temp file's open descriptor pins (a swept temp file's inode
/// number cannot be handed to the next commit while we hold it; see ``PinnedFile``), and by size
/// and modification time, which a rename keeps. The protocol says a temp file does not change
/// once closed; a change that alters its size or modification time makes it not match, and it is
/// read the usual way. A temp file that is never renamed is never delivered.
struct ReadAhead<State: Sendable>: Sendable {
    /// The temp file, kept open, with its status when it was read.
    let file: PinnedFile
    /// The header of the version read.
    let header: StateFileHeader
    /// The version, decoded.
    let snapshot: StateSnapshot<State>

    /// Whether the file with this status (the state file just opened) is the one read ahead.
    func isFile(_ status: FileStatus) -> Bool {
        let read = file.status
        return status.device == read.device && status.inode == read.inode && status.size == read.size
            && status.modificationTimeNanoseconds == read.modificationTimeNanoseconds
    }
}
