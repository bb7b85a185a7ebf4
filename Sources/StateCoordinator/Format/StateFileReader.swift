import Foundation
import SystemPackage

/// Reads and verifies a state file without taking any lock: the file is only ever replaced by
/// `rename(2)`, so the descriptor opened here sees one complete version however many commits
/// happen while it is read.
struct StateFileReader {
    let calls: SystemCalls

    /// What to do with a file just opened, decided from its status (see ``read(directory:name:path:deciding:)``).
    enum Decision {
        /// Read and verify it.
        case read
        /// Leave it: the caller already has this version, or will read it elsewhere.
        case skip
    }

    /// Reads `name` in the directory and verifies it.
    func read(directory: FileDescriptor, name: String, path: String) throws(StateStoreError) -> VerifiedStateFile {
        // The closure never skips, so there is always a file.
        try read(directory: directory, name: name, path: path, deciding: { _ in .read })!
    }

    /// Reads `name` in the directory and verifies it, unless `decide` says, from the file just
    /// opened, to leave it (a version the caller already has: a watcher's reload then costs an
    /// open, an fstat and a close).
    /// - Parameters:
    ///   - directory: an open descriptor of the store directory.
    ///   - path: the file's path, for messages.
    ///   - decide: gets the open file (which the caller may keep, to pin it) before anything is
    ///     read; it also sees files that then fail verification.
    /// - Returns: nil when skipped.
    func read(
        directory: FileDescriptor, name: String, path: String, deciding decide: (PinnedFile) -> Decision
    ) throws(StateStoreError) -> VerifiedStateFile? {
        let fd: FileDescriptor
        do {
            fd = try calls.open(directory, name, .readExisting)
        } catch .tooManySymbolicLinkLevels {
            throw StateStoreError(
                .symbolicLink, "\(path) is a symbolic link; the store never follows links.",
                hint: "Replace the link with the real file (or point the store at the real directory).",
                step: .readState, path: path, errno: .tooManySymbolicLinkLevels)
        } catch {
            throw .system(.readState, path: path, errno: error)
        }
        let status: FileStatus
        do { status = try calls.fstat(fd) } catch {
            try? calls.close(fd)
            throw .system(.readState, path: path, errno: error)
        }
        let file = PinnedFile(descriptor: fd, status: status, calls: calls)
        if decide(file) == .skip { return nil }
        guard status.isRegularFile else {
            throw StateStoreError(
                .unverifiable, "\(path) is not a regular file.", hint: "Remove it, or point the store at the right directory.",
                step: .readState, path: path)
        }
        let bytes = try readVerifyingSize(fd, status: status, path: path)
        let (header, state) = try StateFileCodec.decode(bytes, path: path)
        return VerifiedStateFile(header: header, stateBytes: state, fileSize: bytes.count, file: file)
    }

    /// Reads the header's worth first, so that an oversized file is refused by the limit the store
    /// recorded in its header before it is read into memory. What fstat promised plus one byte is
    /// asked for, into one buffer of that size: a file still growing (written in place) shows as
    /// one byte too many, and a checksum that fails.
    private func readVerifyingSize(_ fd: FileDescriptor, status: FileStatus, path: String) throws(StateStoreError) -> [UInt8] {
        let headerWindow = StateFileHeader.maximumLength + 1
        let size = Int(status.size)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(size, headerWindow) + 1)
        try readUpTo(fd, into: &bytes, count: min(size, headerWindow) + 1, expectedEnd: size, path: path)
        guard bytes.count > headerWindow else { return bytes }
        let limit = StateFileHeader.maximumLength + 1 + limitFromHeader(bytes)
        guard size <= limit else {
            throw StateStoreError(
                .tooLarge, "\(path) is \(status.size) bytes, above the store's limit of \(limit - headerWindow) state bytes.",
                hint: "Something other than a StateCoordinator writer wrote it; inspect it.", path: path)
        }
        bytes.reserveCapacity(size + 1)
        try readUpTo(fd, into: &bytes, count: size + 1, expectedEnd: size, path: path)
        guard bytes.count <= limit else {
            throw StateStoreError(.tooLarge, "\(path) grew past the store's size limit while being read.", path: path)
        }
        return bytes
    }

    /// The state size limit recorded in the header at the start of `bytes`, else the default.
    private func limitFromHeader(_ bytes: [UInt8]) -> Int {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let header = StateFileHeader.decode(bytes[..<newline])
        else { return StoreSettings.defaultMaximumStateBytes }
        return header.settings.maximumStateBytes
    }

    private func readUpTo(
        _ fd: FileDescriptor, into bytes: inout [UInt8], count: Int, expectedEnd: Int, path: String
    ) throws(StateStoreError) {
        do { try calls.read(fd, into: &bytes, upTo: count, expectedEnd: expectedEnd) } catch {
            throw .system(.readState, path: path, errno: error)
        }
    }
}
