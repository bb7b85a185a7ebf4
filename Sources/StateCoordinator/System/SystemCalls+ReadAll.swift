import SystemPackage

extension SystemCalls {
    /// Reads from `fd` until `count` bytes or end of file, whichever comes first.
    func read(_ fd: FileDescriptor, upTo count: Int) throws(Errno) -> [UInt8] {
        var result: [UInt8] = []
        try read(fd, into: &result, upTo: count)
        return result
    }

    /// Reads from `fd`, appending to `bytes` until it holds `count` bytes or end of file.
    ///
    /// With capacity reserved, each read goes straight into the spare capacity: one buffer for a
    /// file read in several steps. Without, the buffer grows in doubling steps from 64 KiB, so a
    /// generous `count` (a size limit) costs nothing for a small file.
    ///
    /// - Parameter expectedEnd: the size `fstat` reported for a regular file: a short read that
    ///   ends exactly there is the end of the file, and the read that would return 0 is skipped
    ///   (a watcher reads a file per commit). A short read anywhere else (FUSE may return those)
    ///   goes on reading.
    func read(_ fd: FileDescriptor, into bytes: inout [UInt8], upTo count: Int, expectedEnd: Int? = nil) throws(Errno) {
        var filled = bytes.count
        defer { bytes.removeLast(bytes.count - filled) }
        while filled < count {
            if bytes.count == filled {
                let step = min(count - filled, max(bytes.capacity - filled, filled, 64 << 10))
                bytes.append(contentsOf: repeatElement(0, count: step))
            }
            let end = bytes.count
            let got = try bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(Errno) -> Int in
                    try read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<end]))
                }
            }.get()
            filled += got
            if got == 0 || (filled == expectedEnd && filled < end) { return }
        }
    }
}
