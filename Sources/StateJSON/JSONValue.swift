import Foundation

/// Any JSON value, for tools and code that do not have a typed model of the state.
///
/// Numbers are kept exactly as written, in every language's sense: an integer literal is
/// ``int(_:)`` (signed 64-bit) or, beyond that range, ``largeInteger(_:)`` with its exact digits
/// (a Python participant's `18446744073709551615` survives any number of unrelated commits); a
/// literal with a fraction or exponent is ``double(_:)`` and is written back with one (`1.0`
/// stays `1.0`). Text is parsed by the package's strict RFC 8259 parser (see
/// ``init(parsing:)``) and written with names sorted by code point. Strings and member names
/// compare code point by code point (``JSONKey``), as in every other JSON tool, never by Swift's
/// canonical equivalence.
///
/// Exactness holds where the package reads and writes the text itself: a ``JSONValue`` as a
/// store's whole state, and statectl. A ``JSONValue`` *inside* a typed `Codable` state is decoded
/// by `JSONDecoder` (after the strict check), which has no integer wider than 64 bits (such a
/// number becomes a double) and writes a double with no fraction as an integer; Foundation's
/// coders also key objects by `String`, so two names that differ only in Unicode normalization
/// cannot both pass through them.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number that is an integer in the signed 64-bit range.
    case int(Int64)
    /// An integer outside the signed 64-bit range, kept as its exact decimal digits (`-?[0-9]+`).
    /// Arithmetic on it is refused rather than rounded.
    case largeInteger(String)
    /// A number written with a fraction or an exponent (never NaN or infinite in JSON).
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object: its members by name, names compared code point by code point.
    case object([JSONKey: JSONValue])
}

extension JSONValue: Codable {
    /// Decodes any JSON value; integers that fit in `Int64` decode as ``int(_:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            let members = try container.decode([String: JSONValue].self)
            self = .object(Dictionary(members.map { (JSONKey($0.key), $0.value) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// Encodes the value as JSON.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .largeInteger(let digits):
            // Through a Codable encoder (a JSONValue inside a typed state): Decimal keeps the digits.
            guard JSONWriter.isIntegerLiteral(digits), let exact = Decimal(string: digits) else {
                throw Swift.EncodingError.invalidValue(digits, .init(codingPath: encoder.codingPath, debugDescription: "not an integer"))
            }
            try container.encode(exact)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let members):
            // Foundation's coders key objects by String, which compares canonically: two names
            // that differ only in normalization would become one, so that is refused, not merged.
            var byName: [String: JSONValue] = [:]
            for (key, value) in members {
                guard byName.updateValue(value, forKey: key.name) == nil else {
                    throw Swift.EncodingError.invalidValue(
                        key.name,
                        .init(
                            codingPath: encoder.codingPath,
                            debugDescription: "two member names differ only in Unicode normalization; a JSONValue inside a Codable state cannot keep both"))
                }
            }
            try container.encode(byName)
        }
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    /// An object literal.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements.map { (JSONKey($0.0), $0.1) }, uniquingKeysWith: { _, last in last }))
    }
    /// An array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A floating-point literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A Boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `nil` as JSON `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// An unsigned integer (a version, a count): `.int` when it fits in `Int64`, else
    /// `.largeInteger` with its exact digits.
    public static func unsigned(_ value: UInt64) -> JSONValue {
        value <= UInt64(Int64.max) ? .int(Int64(value)) : .largeInteger(String(value))
    }
}

extension JSONValue {
    /// The member of an object, or nil (also nil for non-objects). Read-only: setting a member
    /// of something that is not an object cannot succeed silently, so it is ``set(_:forKey:)``,
    /// which throws.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[JSONKey(key)]
    }

    /// Sets (or with nil removes) the member `key` of this object.
    /// - Throws: ``JSONPointerError/Kind/notFound`` when this value is not an object.
    public mutating func set(_ value: JSONValue?, forKey key: String) throws(JSONPointerError) {
        guard case .object(var members) = self else {
            throw JSONPointerError(
                .notFound, pointer: JSONPointer(tokens: [key]).description, "the value is \(kindName), not an object")
        }
        members[JSONKey(key)] = value
        self = .object(members)
    }

    /// The integer, when this is ``int(_:)``.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }
}
