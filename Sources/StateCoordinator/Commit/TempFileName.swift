/// Unpredictable temp-file names: the store's prefix and 16 random base-32 characters (80 bits),
/// so no other process can guess a name and plant a file or link there first.
enum TempFileName {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let randomLength = 16

    static func make(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var suffix = [UInt8]()
        suffix.reserveCapacity(randomLength)
        for _ in 0..<randomLength {
            suffix.append(alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))])
        }
        return prefix + String(decoding: suffix, as: UTF8.self)
    }
}
