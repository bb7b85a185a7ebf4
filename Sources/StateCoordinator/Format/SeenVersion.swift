import SystemPackage

/// A version of the state file this process read or wrote, kept so that "is the file at the name
/// still that version?" is answered without reading it whole, and without being fooled.
///
/// Device and inode numbers alone prove nothing: ext4 hands a freed inode number to the next file
/// at once, and the change time moves in ticks of 1–4 ms, so two same-size commits by another
/// process within one tick look exactly like the file last seen. So the status (device, inode,
/// size, change time) is only the quick test; a match is then confirmed by the file's header line
/// (read with one `pread`): the same store identity, version, size and SHA-256 of the state bytes.
/// Whatever agrees on those holds the same state, whichever inode it is in. (Keeping the file
/// open instead would pin its inode, but costs every commit two journalled updates of ext4's
/// orphan list when the file is replaced and later closed: measured about 100 µs a commit.)
struct SeenVersion: Sendable, Equatable {
    /// The file's status when it was seen.
    let status: FileStatus
    /// Its header; nil for a file without one (a bad file reported once).
    let header: StateFileHeader?

    /// Whether `file`, just opened at the name, is this version: its status matches, then its header.
    func matches(_ file: PinnedFile, calls: SystemCalls) -> Bool {
        let now = file.status
        guard now.isSameFile(as: status), now.size == status.size,
            now.changeTimeNanoseconds == status.changeTimeNanoseconds
        else { return false }
        return Self.sameVersion(HeaderPeek.header(of: file.descriptor, calls: calls), header)
    }

    /// Whether two headers name the same version of the same store with the same state bytes.
    static func sameVersion(_ a: StateFileHeader?, _ b: StateFileHeader?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a?, let b?):
            return a.store == b.store && a.version == b.version && a.stateBytes == b.stateBytes && a.checksum == b.checksum
        default: return false
        }
    }
}

/// Reads just the header line of an open state file, with `pread` (the descriptor's offset is
/// left where it was, so the file can still be read whole after).
enum HeaderPeek {
    /// The first read: a header this package writes is about 350 bytes.
    private static let firstRead = 512

    static func header(of fd: FileDescriptor, calls: SystemCalls) -> StateFileHeader? {
        for length in [firstRead, StateFileHeader.maximumLength + 1] {
            // Read into uninitialized capacity: no zero-filling on the reload path.
            var failed = false
            let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                count = (try? read(fd, into: buffer, calls: calls)) ?? 0
                failed = count == 0
            }
            if failed { return nil }
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) { return StateFileHeader.decode(bytes[..<newline]) }
            if bytes.count < length { return nil }  // the whole file, and no line feed
        }
        return nil
    }

    private static func read(_ fd: FileDescriptor, into buffer: UnsafeMutableBufferPointer<UInt8>, calls: SystemCalls) throws(Errno) -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try calls.pread(fd, UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[filled...])), Int64(filled))
            if got == 0 { break }
            filled += got
        }
        return filled
    }
}
