import SystemPackage

extension SystemCalls {
    /// Reads from `fd` until `count` bytes or end of file, whichever comes first.
    func read(_ fd: CInt, upTo count: Int) throws(Errno) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let outcome = result.withUnsafeMutableBytes { buffer in
                Result { () throws(Errno) -> Int in
                    try read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                }
            }
            let got = try outcome.get()
            if got == 0 { break }
            filled += got
        }
        result.removeLast(count - filled)
        return result
    }
}
