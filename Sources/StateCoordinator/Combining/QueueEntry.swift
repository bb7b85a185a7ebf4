import Glibc

/// The names in a store's queue directory (`NAME.queue`), as the protocol article lists them.
/// Every name but an answers directory's starts with the request's ID: 16 hex digits of the
/// publishing time in nanoseconds, `-`, 8 of the publisher's process ID, `-`, 16 random ones; so
/// the names sort in publishing order and never collide. The answers to a process's requests
/// (`ID.done`, `ID.failed`) are in a directory of that process's own, `PID.answers` (8 hex
/// digits), so that an answer wakes only the process it is for. Anything else is ignored (and
/// left alone).
enum QueueEntry: Equatable, Hashable {
    /// `ID.tmp`: a publisher writing its request.
    case temp(String)
    /// `ID.req`: a published request, waiting for a lock holder.
    case request(String)
    /// `ID.B.claim`: taken by the lock holder that found the store at version `B`.
    case claim(String, base: UInt64)
    /// `ID.B.answering`: a claim its holder is answering (renamed from the claim first, so that
    /// an answer its waiter already collected is never followed by the request queued again).
    case answering(String, base: UInt64)
    /// `ID.done`: committed; a hard link to the state file of the version that includes it (or,
    /// when it changed nothing, of the version it was applied to).
    case done(String)
    /// `ID.failed`: not committed, or its outcome could not be told; JSON saying which and why.
    case failed(String)
    /// `ID.failed.tmp`: an answer being written.
    case failedTemp(String)
    /// `PID.answers`: the directory of the answers to one process's requests (8 hex digits).
    case answers(String)

    /// The request's ID.
    var id: String {
        switch self {
        case .temp(let id), .request(let id), .claim(let id, _), .answering(let id, _), .done(let id), .failed(let id), .failedTemp(let id),
            .answers(let id):
            id
        }
    }

    /// The file name.
    var name: String {
        switch self {
        case .temp(let id): id + ".tmp"
        case .request(let id): id + ".req"
        case .claim(let id, let base): id + "." + String(base) + ".claim"
        case .answering(let id, let base): id + "." + String(base) + ".answering"
        case .done(let id): id + ".done"
        case .failed(let id): id + ".failed"
        case .failedTemp(let id): id + ".failed.tmp"
        case .answers(let process): process + ".answers"
        }
    }

    /// The answers directory of the process that published `id`.
    static func answersDirectory(ofID id: String) -> String {
        let utf8 = Array(id.utf8)
        return QueueEntry.answers(utf8.count == idLength ? String(decoding: utf8[17..<25], as: UTF8.self) : "00000000").name
    }

    /// The length of an ID.
    static let idLength = 16 + 1 + 8 + 1 + 16

    /// Reads a name; nil for anything that is not one of the queue's.
    init?(name: String) {
        let utf8 = Array(name.utf8)
        if utf8.count == 16, name.hasSuffix(".answers"), utf8.prefix(8).allSatisfy(Self.isHexDigit) {
            self = .answers(String(name.prefix(8)))
            return
        }
        guard utf8.count > Self.idLength + 1, Self.isID(utf8[..<Self.idLength]), utf8[Self.idLength] == UInt8(ascii: ".") else { return nil }
        let id = String(decoding: utf8[..<Self.idLength], as: UTF8.self)
        let rest = String(decoding: utf8[(Self.idLength + 1)...], as: UTF8.self)
        switch rest {
        case "tmp": self = .temp(id)
        case "req": self = .request(id)
        case "done": self = .done(id)
        case "failed": self = .failed(id)
        case "failed.tmp": self = .failedTemp(id)
        default:
            let suffix = rest.hasSuffix(".claim") ? ".claim" : rest.hasSuffix(".answering") ? ".answering" : ""
            guard !suffix.isEmpty, case let digits = rest.dropLast(suffix.count), !digits.isEmpty, digits.utf8.count <= 20,
                digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let base = UInt64(digits),
                String(base) == digits
            else { return nil }
            self = suffix == ".claim" ? .claim(id, base: base) : .answering(id, base: base)
        }
    }

    /// Whether the bytes are an ID: lowercase hex in the 16-8-16 layout.
    static func isID(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == idLength else { return false }
        for (offset, byte) in bytes.enumerated() {
            if offset == 16 || offset == 25 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard isHexDigit(byte) else { return false }
            }
        }
        return true
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    /// A new ID for a request of this process.
    static func newID() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = UInt64(max(0, now.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, now.tv_nsec))
        var random = SystemRandomNumberGenerator()
        return hex(nanoseconds, digits: 16) + "-" + hex(UInt64(UInt32(bitPattern: getpid())), digits: 8) + "-"
            + hex(random.next(), digits: 16)
    }

    /// The publishing process's ID, read back from a request ID (or an answers directory's name).
    static func publisher(ofID id: String) -> Int32? {
        let utf8 = Array(id.utf8)
        let digits = utf8.count == idLength ? utf8[17..<25] : utf8.count == 8 ? utf8[...] : []
        guard !digits.isEmpty, let pid = UInt32(String(decoding: digits, as: UTF8.self), radix: 16) else { return nil }
        return Int32(bitPattern: pid)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.utf8.count)) + text
    }
}
