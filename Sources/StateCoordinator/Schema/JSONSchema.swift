/// A JSON Schema (draft 2020-12) of the subset this package validates, compiled once.
///
/// Supported keywords: `type` (a name or an array of names), `enum`, `const`, `properties`,
/// `required`, `additionalProperties` (a boolean or a schema), `items` (a schema for every
/// element), `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`,
/// `maxLength` (in Unicode code points), `minItems`, `maxItems`; boolean schemas (`true`,
/// `false`); and the annotations `$schema` (only the 2020-12 URI), `$comment`, `title`,
/// `description`, `default` and `examples`, which validate nothing. A schema using any other
/// keyword is refused, naming it, rather than half-applied: a rule a writer silently ignored
/// would let through the very states it was written to stop.
///
/// Semantics follow the specification as Python's `jsonschema` implements it (the tests compare
/// the two on thousands of generated cases): `1.0` is an integer, `true` is not a number,
/// `1` equals `1.0` in `enum` and `const`, and lengths count code points.
public struct JSONSchema: Sendable, Equatable {
    /// The schema as given.
    public let value: JSONValue
    /// `sha256:` and the hex SHA-256 of the schema's file (its compact JSON and a line feed),
    /// as a store's settings name it.
    public let checksum: String
    /// The bytes of its file.
    let fileBytes: [UInt8]
    let root: SchemaNode

    /// The `$schema` URI this package accepts.
    public static let draft202012 = "https://json-schema.org/draft/2020-12/schema"

    /// Compiles `value`.
    /// - Throws: ``StateStoreError/Code/invalidArgument`` naming the schema location of the first
    ///   keyword that is unsupported or malformed.
    public init(_ value: JSONValue) throws(StateStoreError) {
        self.value = value
        // Non-finite numbers cannot be written as JSON: a schema every process can read is JSON.
        guard let bytes = try? JSONWriter.write(value, pretty: false) else {
            throw StateStoreError(
                .invalidArgument, "The schema holds a number JSON cannot write (NaN or infinity).",
                hint: "Use finite numbers; nothing was changed.")
        }
        fileBytes = bytes + [UInt8(ascii: "\n")]
        checksum = Checksum.of(fileBytes)
        root = try SchemaNode.compile(value, at: JSONPointer(tokens: []))
    }

    /// The first rule `instance` breaks, or nil when it is valid.
    public func firstViolation(of instance: JSONValue) -> SchemaViolation? {
        var violations: [SchemaViolation] = []
        root.validate(instance, at: JSONPointer(tokens: []), into: &violations, stopAtFirst: true)
        return violations.first
    }

    /// Every rule `instance` breaks (members in name order).
    public func violations(of instance: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        root.validate(instance, at: JSONPointer(tokens: []), into: &violations, stopAtFirst: false)
        return violations
    }

    /// Whether `instance` is valid.
    public func accepts(_ instance: JSONValue) -> Bool { firstViolation(of: instance) == nil }

    public static func == (lhs: JSONSchema, rhs: JSONSchema) -> Bool { lhs.value == rhs.value }
}

/// One rule broken by a state: where, and what was expected.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible, Error {
    /// Where in the state (`/risk/maxPosition`).
    public var pointer: JSONPointer
    /// What was expected and what was found: `expected boolean, got 1`.
    public var message: String

    /// `/halt: expected boolean, got 1` (`(root)` for the whole state).
    public var description: String { "\(pointer.tokens.isEmpty ? "(root)" : pointer.description): \(message)" }
}
