#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import SystemPackage

/// Reads and verifies a state file without taking any lock: the file is only ever replaced by
/// `rename(2)`, so the descriptor opened here sees one complete version however many commits
/// happen while it is read.
struct StateFileReader {
    let calls: SystemCalls

    /// Reads `name` in the directory and verifies it.
    func read(directory: CInt, name: String, path: String) throws(StateStoreError) -> VerifiedStateFile {
        // The closure never skips, so there is always a file.
        try read(directory: directory, name: name, path: path, skipping: { _ in false })!
    }

    /// Reads `name` in the directory and verifies it, unless `skip` says, from the status of the
    /// file just opened, that it is a version the caller already has: a watcher's reload then
    /// costs an open, an fstat and a close.
    /// - Parameters:
    ///   - directory: an open descriptor of the store directory.
    ///   - path: the file's path, for messages.
    /// - Returns: nil when skipped.
    func read(
        directory: CInt, name: String, path: String, skipping skip: (FileStatus) -> Bool
    ) throws(StateStoreError) -> VerifiedStateFile? {
        let fd: OwnedDescriptor
        do {
            fd = OwnedDescriptor(
                try calls.open(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0), calls: calls)
        } catch .tooManySymbolicLinkLevels {
            throw StateStoreError(
                .symbolicLink, "\(path) is a symbolic link; the store never follows links.",
                hint: "Replace the link with the real file (or point the store at the real directory).",
                step: .readState, path: path, errno: .tooManySymbolicLinkLevels)
        } catch {
            throw .system(.readState, path: path, errno: error)
        }
        let status: FileStatus
        do { status = try calls.fstat(fd.rawValue) } catch { throw .system(.readState, path: path, errno: error) }
        if skip(status) { return nil }
        guard status.isRegularFile else {
            throw StateStoreError(.unverifiable, "\(path) is not a regular file.", step: .readState, path: path)
        }
        let bytes = try readVerifyingSize(fd, status: status, path: path)
        let (header, state) = try StateFileCodec.decode(bytes, path: path)
        return VerifiedStateFile(header: header, stateBytes: state, fileSize: bytes.count, status: status)
    }

    /// Reads the header's worth first, so that an oversized file is refused by the limit the store
    /// recorded in its header before it is read into memory. What fstat promised plus one byte is
    /// asked for, into one buffer of that size: a file still growing (written in place) shows as
    /// one byte too many, and a checksum that fails.
    private func readVerifyingSize(_ fd: OwnedDescriptor, status: FileStatus, path: String) throws(StateStoreError) -> [UInt8] {
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
        _ fd: OwnedDescriptor, into bytes: inout [UInt8], count: Int, expectedEnd: Int, path: String
    ) throws(StateStoreError) {
        do { try calls.read(fd.rawValue, into: &bytes, upTo: count, expectedEnd: expectedEnd) } catch {
            throw .system(.readState, path: path, errno: error)
        }
    }
}
