/// Unpredictable temp-file names: the store's prefix and 16 random base-32 characters (80 bits),
/// so no other process can guess a name and plant a file or link there first.
enum TempFileName {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let randomLength = 16

    static func make(prefix: String) -> String {
        // Two 64-bit draws (one getrandom(2) each) give the 80 bits: 5 bits per character.
        var generator = SystemRandomNumberGenerator()
        var bits = (generator.next() as UInt64, generator.next() as UInt64)
        var suffix = [UInt8]()
        suffix.reserveCapacity(randomLength)
        for index in 0..<randomLength {
            let word = index < 8 ? bits.0 : bits.1
            suffix.append(alphabet[Int(word & 31)])
            if index < 8 { bits.0 = word >> 5 } else { bits.1 = word >> 5 }
        }
        return prefix + String(decoding: suffix, as: UTF8.self)
    }
}
