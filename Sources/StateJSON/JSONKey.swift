/// The name of a JSON object's member, compared code point by code point.
///
/// Swift's `String` equality is canonical equivalence: `"é"` precomposed (U+00E9) and decomposed
/// (U+0065 U+0301) are one string to Swift. JSON names are not: RFC 8259 §8.3, RFC 6901 §4 and
/// JSON Schema 2020-12 (core §4.2.2) compare them code point by code point, as Python's `json`,
/// `jq` and every other JSON tool do, so `{"é": 1, "é": 2}` (one of each form) is an object of
/// two members. ``JSONValue/object(_:)`` is keyed by this type so that lookups, JSON Pointers,
/// merge patches, the schema validator and the store's own no-op detection see the members every
/// other participant sees.
///
/// Order (`<`) is code point order, the order ``JSONValue`` writes names in.
public struct JSONKey: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The name, exactly as written (never normalized).
    public let name: String

    /// A key for `name`, kept exactly.
    public init(_ name: String) {
        self.name = name
    }

    /// A key from a string literal.
    public init(stringLiteral value: String) {
        self.name = value
    }

    /// Equal when both names are the same sequence of code points.
    public static func == (lhs: JSONKey, rhs: JSONKey) -> Bool {
        lhs.name.utf8.elementsEqual(rhs.name.utf8)
    }

    /// Hashes the name's UTF-8 bytes (code points, not the canonical form `String` hashes).
    public func hash(into hasher: inout Hasher) {
        hasher.combineCodePoints(of: name)
    }

    /// Code point order (the order of the names' UTF-8 bytes).
    public static func < (lhs: JSONKey, rhs: JSONKey) -> Bool {
        lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8)
    }

    /// The name.
    public var description: String { name }
}

extension Hasher {
    /// Feeds the UTF-8 bytes of `text`, then its length (so that concatenations differ).
    mutating func combineCodePoints(of text: String) {
        var text = text
        text.withUTF8 { combine(bytes: UnsafeRawBufferPointer($0)) }
        combine(text.utf8.count)
    }
}
