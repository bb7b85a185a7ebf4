import Foundation
import Crypto

/// The checksum over a state's exact bytes: `sha256:` followed by lowercase hex.
enum Checksum {
    static let prefix = "sha256:"

    static func of<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        let digest = SHA256.hash(data: bytes)
        var text = Array(prefix.utf8)
        text.reserveCapacity(text.count + 2 * SHA256.byteCount)
        for byte in digest {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether `bytes` hash to `recorded` (a checksum as ``of(_:)`` writes it), without building
    /// the text: every reload verifies one.
    static func matches<Bytes: DataProtocol>(_ bytes: Bytes, _ recorded: String) -> Bool {
        let digest = SHA256.hash(data: bytes)
        var recorded = recorded
        return recorded.withUTF8 { text in
            guard text.count == prefix.utf8.count + 2 * SHA256.byteCount, text.starts(with: prefix.utf8) else { return false }
            var position = prefix.utf8.count
            for byte in digest {
                guard text[position] == hexDigits[Int(byte >> 4)], text[position + 1] == hexDigits[Int(byte & 0xF)] else {
                    return false
                }
                position += 2
            }
            return true
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
