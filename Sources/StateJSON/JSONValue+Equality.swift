/// Equality as JSON tools other than Swift see it: strings and member names compare code point by
/// code point (RFC 8259 §8.3), never by Swift's canonical equivalence, so a commit that changes
/// `"é"` precomposed into decomposed is a change, and two such strings are two `enum` values.
/// Numbers compare as the synthesized equality did: by case, then value (`1` and `1.0` differ, as
/// they are written differently).
extension JSONValue {
    /// Whether both are the same JSON value, strings compared by code points.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.largeInteger(let a), .largeInteger(let b)): a.utf8.elementsEqual(b.utf8)
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// Hashes the value consistently with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(1); hasher.combine(value)
        case .int(let value): hasher.combine(2); hasher.combine(value)
        case .largeInteger(let digits): hasher.combine(3); hasher.combineCodePoints(of: digits)
        case .double(let value): hasher.combine(4); hasher.combine(value)
        case .string(let text): hasher.combine(5); hasher.combineCodePoints(of: text)
        case .array(let elements): hasher.combine(6); hasher.combine(elements)
        case .object(let members): hasher.combine(7); hasher.combine(members)
        }
    }
}
