import Foundation
import Crypto

/// The checksum over a state's exact bytes: `sha256:` followed by lowercase hex.
enum Checksum {
    static let prefix = "sha256:"

    static func of<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        let digest = SHA256.hash(data: bytes)
        var text = prefix
        text.reserveCapacity(prefix.count + 64)
        for byte in digest {
            text += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        return text
    }
}
