/// A version read from one of our temp files after its writer closed it and before the rename
/// that makes it current.
///
/// A writer of this package closes its temp file before fsyncing it, so the close
/// (`IN_CLOSE_WRITE`) says the next version is complete while the fsync still runs; a watcher
/// reads, verifies and decodes it then. When the state file's name arrives and the state file is
/// that very file — same device, inode, size and modification time, all of which a rename keeps —
/// the version is delivered without reading it again. The temp file is kept open until then, so
/// its inode number cannot be handed to another file meanwhile (a temp file that was swept
/// instead of renamed would otherwise free it for the next commit's temp file, which ext4 does at
/// once). Released as soon as the version is delivered or overtaken, while the file is still the
/// current state file, so holding it costs ext4 no orphan-list update (see ``SeenVersion``). The
/// protocol says a temp file does not change once closed; one that does not match is read the
/// usual way. A temp file that is never renamed is never delivered.
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
        return status.isSameFile(as: read) && status.size == read.size
            && status.modificationTimeNanoseconds == read.modificationTimeNanoseconds
    }
}
