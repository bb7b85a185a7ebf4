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
    /// What identifies the file read: what a rename leaves as it was.
    private struct Key: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modificationTime: Int64

        init(_ status: FileStatus) {
            device = status.device
            inode = status.inode
            size = status.size
            modificationTime = status.modificationTimeNanoseconds
        }
    }

    private let key: Key
    /// The header of the version read.
    let header: StateFileHeader
    /// The version, decoded.
    let snapshot: StateSnapshot<State>

    /// - Parameter file: the status of the temp file when it was read.
    init(file: FileStatus, header: StateFileHeader, snapshot: StateSnapshot<State>) {
        key = Key(file)
        self.header = header
        self.snapshot = snapshot
    }

    /// Whether the file with this status (the state file just opened) is the one read ahead.
    func isFile(_ status: FileStatus) -> Bool { key == Key(status) }
}
