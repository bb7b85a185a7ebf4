/// An RFC 6901 JSON Pointer: `""` is the whole document, `/risk/max_position` a member,
/// `/orders/0` an array element, `~1` and `~0` escape `/` and `~`, and `-` names the position
/// after an array's last element.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens.
    public let tokens: [String]

    /// Parses a pointer.
    /// - Throws: ``JSONPointerError/Kind/malformed`` when it does not start with `/` (and is not
    ///   empty) or has a `~` not followed by `0` or `1`.
    public init(_ text: String) throws(JSONPointerError) {
        guard !text.isEmpty else {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw JSONPointerError(.malformed, pointer: text, "a JSON Pointer is empty or starts with '/'")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            tokens.append(try Self.unescape(raw, pointer: text))
        }
        self.tokens = tokens
    }

    /// A pointer from unescaped tokens.
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// The pointer's text, escaped.
    public var description: String {
        tokens.map { "/" + $0.replacing("~", with: "~0").replacing("/", with: "~1") }.joined()
    }

    /// The pointer to the child `token` of this one.
    public func appending(_ token: String) -> JSONPointer { JSONPointer(tokens: tokens + [token]) }

    private static func unescape(_ token: Substring, pointer: String) throws(JSONPointerError) -> String {
        var result = ""
        var iterator = token.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: throw JSONPointerError(.malformed, pointer: pointer, "'~' must be followed by '0' or '1'")
            }
        }
        return result
    }

    /// An array index token: digits without a leading zero (RFC 6901 §4).
    static func index(_ token: String) -> Int? {
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            token == "0" || !token.hasPrefix("0")
        else { return nil }
        return Int(token)
    }
}

/// Why a JSON Pointer could not be used on a document.
public struct JSONPointerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The pointer's syntax is wrong.
        case malformed
        /// The target, or a parent of it, does not exist: a missing member, an index past the end,
        /// or a scalar where the path needs an object or array.
        case notFound
    }

    /// The kind of failure.
    public var kind: Kind
    /// The pointer, as given.
    public var pointer: String
    /// What was wrong.
    public var reason: String

    init(_ kind: Kind, pointer: String, _ reason: String) {
        self.kind = kind
        self.pointer = pointer
        self.reason = reason
    }

    /// `pointer "/a/b": reason`.
    public var description: String { "pointer \"\(pointer)\": \(reason)" }
}
