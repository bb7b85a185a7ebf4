import CSystemShims

/// Unpredictable temp-file names: the store's prefix and 16 random base-32 characters (80 bits),
/// so no other process can guess a name and plant a file or link there first.
enum TempFileName {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let randomLength = 16

    static func make(prefix: String) -> String {
        var bits = randomBits()
        var suffix = [UInt8]()
        suffix.reserveCapacity(randomLength)
        for index in 0..<randomLength {
            let word = index < 8 ? bits.0 : bits.1
            suffix.append(alphabet[Int(word & 31)])
            if index < 8 { bits.0 = word >> 5 } else { bits.1 = word >> 5 }
        }
        return prefix + String(decoding: suffix, as: UTF8.self)
    }

    /// 128 random bits (80 are used: 5 a character) from one `getrandom(2)` call; two draws of
    /// `SystemRandomNumberGenerator` (a call each) where it fails or returns less.
    private static func randomBits() -> (UInt64, UInt64) {
        var bits: (UInt64, UInt64) = (0, 0)
        let filled = withUnsafeMutableBytes(of: &bits) { buffer in
            statecoordinator_getrandom(buffer.baseAddress, UInt(buffer.count)) == buffer.count
        }
        if filled { return bits }
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }
}
