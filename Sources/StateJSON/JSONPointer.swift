/// An RFC 6901 JSON Pointer: `""` is the whole document, `/risk/max_position` a member,
/// `/orders/0` an array element, `~1` and `~0` escape `/` and `~`, and `-` names the position
/// after an array's last element.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens.
    public let tokens: [String]

    /// Parses a pointer. Tokens are split and unescaped code point by code point: a `/` or `~`
    /// followed by a combining mark is still a separator or an escape, as in every other tool.
    /// - Throws: ``JSONPointerError/Kind/malformed`` when it does not start with `/` (and is not
    ///   empty) or has a `~` not followed by `0` or `1`.
    public init(_ text: String) throws(JSONPointerError) {
        let scalars = text.unicodeScalars
        guard let first = scalars.first else {
            tokens = []
            return
        }
        guard first == "/" else {
            throw JSONPointerError(.malformed, pointer: text, "a JSON Pointer is empty or starts with '/'")
        }
        var tokens: [String] = []
        for raw in scalars.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
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
        tokens.map(Self.escaped).joined()
    }

    /// The pointer to the child `token` of this one.
    public func appending(_ token: String) -> JSONPointer { JSONPointer(tokens: tokens + [token]) }

    /// Equal when both have the same tokens, compared code point by code point (RFC 6901 §4).
    public static func == (lhs: JSONPointer, rhs: JSONPointer) -> Bool {
        lhs.keys == rhs.keys
    }

    /// Hashes the tokens' code points, consistently with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
    }

    /// The tokens as keys, which compare code point by code point.
    var keys: [JSONKey] { tokens.map { JSONKey($0) } }

    /// Whether `other` is this pointer or below it.
    func isPrefix(of other: JSONPointer) -> Bool {
        other.tokens.count >= tokens.count && Array(other.keys.prefix(tokens.count)) == keys
    }

    /// `/` and the token with `~` written `~0` and `/` written `~1`.
    static func escaped(_ token: String) -> String {
        var result = String.UnicodeScalarView([UnicodeScalar("/")])
        for scalar in token.unicodeScalars {
            switch scalar {
            case "~": result.append(contentsOf: "~0".unicodeScalars)
            case "/": result.append(contentsOf: "~1".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    private static func unescape(_ token: Substring.UnicodeScalarView, pointer: String) throws(JSONPointerError) -> String {
        var result = String.UnicodeScalarView()
        var iterator = token.makeIterator()
        while let scalar = iterator.next() {
            guard scalar == "~" else {
                result.append(scalar)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: throw JSONPointerError(.malformed, pointer: pointer, "'~' must be followed by '0' or '1'")
            }
        }
        return String(result)
    }

    /// An array index token: digits without a leading zero (RFC 6901 §4).
    static func index(_ token: String) -> Int? {
        let digits = token.utf8
        guard let first = digits.first, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            first != UInt8(ascii: "0") || digits.count == 1
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
