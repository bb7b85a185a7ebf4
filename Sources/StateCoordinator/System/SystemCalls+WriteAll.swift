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
}
