import SystemPackage

extension SystemCalls {
    /// Writes every byte, continuing after short writes.
    func write(_ fd: FileDescriptor, all bytes: [UInt8]) throws(Errno) {
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(Errno) -> Void in
                var written = 0
                while written < buffer.count {
                    let count = try write(fd, UnsafeRawBufferPointer(rebasing: buffer[written...]))
                    // write(2) returns 0 only for a zero-length request; treat it as "no progress".
                    if count == 0 { throw Errno.ioError }
                    written += count
                }
            }
        }
        try outcome.get()
    }

    /// Writes `head`, then `body`, continuing after short writes: a small body is copied behind
    /// the head and written in one call; a large one (above 64 KiB) is written from its own
    /// storage, one call more instead of a copy of its size.
    func write(_ fd: FileDescriptor, all head: [UInt8], then body: [UInt8]) throws(Errno) {
        guard body.count > 64 << 10 else { return try write(fd, all: head + body) }
        try write(fd, all: head)
        try write(fd, all: body)
    }
}
