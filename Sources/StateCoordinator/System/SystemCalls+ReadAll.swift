import SystemPackage

extension SystemCalls {
    /// Reads from `fd` until `count` bytes or end of file, whichever comes first.
    func read(_ fd: CInt, upTo count: Int) throws(Errno) -> [UInt8] {
        var result: [UInt8] = []
        try read(fd, into: &result, upTo: count)
        return result
    }

    /// Reads from `fd`, appending to `bytes` until it holds `count` bytes or end of file.
    ///
    /// With capacity reserved, each read goes straight into the spare capacity: one buffer for a
    /// file read in several steps. Without, the buffer grows in doubling steps from 64 KiB, so a
    /// generous `count` (a size limit) costs nothing for a small file.
    func read(_ fd: CInt, into bytes: inout [UInt8], upTo count: Int) throws(Errno) {
        while bytes.count < count {
            let start = bytes.count
            let step = min(count - start, max(bytes.capacity - start, start, 64 << 10))
            bytes.append(contentsOf: repeatElement(0, count: step))
            let outcome = bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(Errno) -> Int in
                    try read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + step)]))
                }
            }
            let got = (try? outcome.get()) ?? 0
            bytes.removeLast(step - got)
            if case .failure(let error) = outcome { throw error }
            if got == 0 { return }
        }
    }
}
