/// A version read from one of our temp files after its writer closed it and before the rename
/// that makes it current.
///
/// A writer of this package closes its temp file before fsyncing it, so the close
/// (`IN_CLOSE_WRITE`) says the next version is complete while the fsync still runs; a watcher
/// reads, verifies and decodes it then. When the state file's name arrives and the state file is
/// that very file, the version is delivered without reading it again. "That very file": the same
/// device, inode, size and modification time (a rename keeps them), confirmed by the header line
/// (one `pread`: the same store, version, size and checksum), since inode numbers of swept temp
/// files are reused at once (see ``SeenVersion``). The protocol says a temp file does not change
/// once closed; one that does not match is read the usual way. A temp file that is never renamed
/// is never delivered.
struct ReadAhead<State: Sendable>: Sendable {
    /// The temp file's status when it was read.
    let status: FileStatus
    /// The header of the version read.
    let header: StateFileHeader
    /// The version, decoded.
    let snapshot: StateSnapshot<State>

    /// Whether `file` (the state file just opened) is the one read ahead.
    func isFile(_ file: PinnedFile, calls: SystemCalls) -> Bool {
        let now = file.status
        guard now.device == status.device, now.inode == status.inode, now.size == status.size,
            now.modificationTimeNanoseconds == status.modificationTimeNanoseconds
        else { return false }
        return SeenVersion.sameVersion(HeaderPeek.header(of: file.descriptor, calls: calls), header)
    }
}
