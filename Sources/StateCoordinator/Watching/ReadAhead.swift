/// A version read from one of our temp files after its writer closed it and before the rename
/// that makes it current.
///
/// A writer of this package closes its temp file before fsyncing it, so the close
/// (`IN_CLOSE_WRITE`) says the next version is complete while the fsync still runs; a watcher
/// reads, verifies and decodes it then. When the state file's name arrives and the state file is
/// that very file — same device, inode, size and modification time, all of which a rename keeps —
/// the version is delivered without reading it again. The protocol says a temp file does not
/// change once closed; a change that alters its size or modification time makes it not match,
/// and it is read the usual way. A temp file that is never renamed is never delivered.
struct ReadAhead<State: Sendable>: Sendable {
    /// The status of the temp file when it was read.
    private let file: FileStatus
    /// The header of the version read.
    let header: StateFileHeader
    /// The version, decoded.
    let snapshot: StateSnapshot<State>

    /// - Parameter file: the status of the temp file when it was read.
    init(file: FileStatus, header: StateFileHeader, snapshot: StateSnapshot<State>) {
        self.file = file
        self.header = header
        self.snapshot = snapshot
    }

    /// Whether the file with this status (the state file just opened) is the one read ahead: the
    /// same device, inode, size and modification time, all of which a rename keeps (it changes
    /// the change time).
    func isFile(_ status: FileStatus) -> Bool {
        status.device == file.device && status.inode == file.inode && status.size == file.size
            && status.modificationTimeNanoseconds == file.modificationTimeNanoseconds
    }
}
