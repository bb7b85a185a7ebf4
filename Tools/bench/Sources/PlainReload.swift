import Crypto
import Foundation

/// The reload baseline: what any reader of the file must do at least — read it whole, hash the
/// state bytes (SHA-256), and parse them with Foundation's `JSONSerialization` — with none of the
/// format's checks.
enum PlainReload {
    /// Nanoseconds to read, hash and parse the state file at `path`.
    static func time(_ path: String) throws -> Int64 {
        let start = Clock.monotonic()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else { throw BenchFailure("\(path) has no header line") }
        let state = data[(newline + 1)...]
        let digest = SHA256.hash(data: state)
        let parsed = try JSONSerialization.jsonObject(with: state)
        let elapsed = Clock.monotonic() - start
        guard Array(digest).count == SHA256.byteCount, parsed is [String: Any] else { throw BenchFailure("\(path) is not a JSON object") }
        return elapsed
    }
}
