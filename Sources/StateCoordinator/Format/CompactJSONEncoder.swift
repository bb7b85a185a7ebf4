import Foundation
import StateJSON

/// Encodes a typed state to the bytes `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
/// and default strategies writes, without `JSONEncoder`: every commit of a typed store encodes its
/// whole state, and Foundation's string serialisation cost six times the commit's system calls
/// at 64 KiB (profiled in `Tools/bench/README.md`). Strings are copied in runs between the
/// characters that need escapes; numbers are written as `JSONEncoder` writes them (a `Double`
/// without its `.0`, `1e+300`).
///
/// What it does not write itself — a `Decimal`, a 128-bit integer, `superEncoder()`, a nested
/// container asked for where another kind of value is, containers nested 511 deep, or any value
/// that fails (NaN, a throwing `encode(to:)`) — is handed to `JSONEncoder` whole, so the result,
/// and every error, is `JSONEncoder`'s; such a state's `encode(to:)` then runs twice per commit.
/// The tests compare both on many shapes, and the `json` fuzz target on every value it parses.
enum CompactJSONEncoder {
    /// The JSON text of `value`.
    static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        var out: [UInt8] = []
        try encode(value, appendingTo: &out)
        return out
    }

    /// Appends the JSON text of `value` to `out` (a buffer reused from commit to commit).
    static func encode<Value: Encodable>(_ value: Value, appendingTo out: inout [UInt8]) throws {
        let context = EncodingContext()
        let encoder = TreeEncoder(context: context, codingPath: [])
        let start = out.count
        do {
            let root = try encoder.box(value, topLevel: true)
            if !context.unsupported, JSONTreeWriter.write(root, into: &out) { return }
        } catch {}
        out.removeSubrange(start...)
        out += try StateEncoding.makeEncoder().encode(value)
    }
}

/// Set when the value used something only `JSONEncoder` writes.
final class EncodingContext {
    var unsupported = false
}

/// A value being encoded: objects and arrays are references, so that a nested container can
/// fill them after it was attached to its parent.
enum JSONTreeNode {
    case null
    case bool(Bool)
    /// The number's JSON text.
    case number(String)
    case string(String)
    case object(ObjectNode)
    case array(ArrayNode)

    final class ObjectNode {
        /// A value encoded twice under one key keeps the last, as with `JSONEncoder`.
        var members: [String: JSONTreeNode] = [:]
    }

    final class ArrayNode {
        var elements: [JSONTreeNode] = []
    }
}

/// An `Encoder` building a ``JSONTreeNode``.
final class TreeEncoder: Encoder {
    let context: EncodingContext
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// What the value encoded (nil: nothing yet, which `JSONEncoder` writes as `{}`).
    var result: JSONTreeNode?

    init(context: EncodingContext, codingPath: [any CodingKey]) {
        self.context = context
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: JSONTreeNode.ObjectNode
        if case .object(let existing)? = result {
            object = existing
        } else {
            if result != nil { context.unsupported = true }
            object = JSONTreeNode.ObjectNode()
            result = .object(object)
        }
        return KeyedEncodingContainer(KeyedTreeContainer<Key>(encoder: self, object: object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: JSONTreeNode.ArrayNode
        if case .array(let existing)? = result {
            array = existing
        } else {
            if result != nil { context.unsupported = true }
            array = JSONTreeNode.ArrayNode()
            result = .array(array)
        }
        return UnkeyedTreeContainer(encoder: self, array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleTreeContainer(encoder: self) }

    /// The node for one value: the types `JSONEncoder` writes its own way first.
    /// A value that encodes nothing is `{}` inside another, and `JSONEncoder`'s error at the top.
    func box<Value: Encodable>(_ value: Value, at key: (any CodingKey)? = nil, topLevel: Bool = false) throws -> JSONTreeNode {
        // Metatype comparisons, not `as?` casts: a dynamic cast per value cost more than the
        // value's writing.
        if Value.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if Value.self == Int.self { return .number(String(unsafeBitCast(value, to: Int.self))) }
        if Value.self == Int64.self { return .number(String(unsafeBitCast(value, to: Int64.self))) }
        if Value.self == Double.self { return try Self.number(unsafeBitCast(value, to: Double.self), path: codingPath, key: key) }
        if Value.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if Value.self == Data.self { return .string(unsafeBitCast(value, to: Data.self).base64EncodedString()) }
        if Value.self == URL.self { return .string(unsafeBitCast(value, to: URL.self).absoluteString) }
        if Value.self == Decimal.self {
            context.unsupported = true
            return .null
        }
        let nested = TreeEncoder(context: context, codingPath: key.map { codingPath + [$0] } ?? codingPath)
        try value.encode(to: nested)
        if nested.result == nil, topLevel { context.unsupported = true }
        return nested.result ?? .object(JSONTreeNode.ObjectNode())
    }

    /// A `Double` or `Float` as `JSONEncoder` writes it; NaN and infinity are refused (the whole
    /// value then goes to `JSONEncoder`, which gives its own error).
    static func number<Number: BinaryFloatingPoint & CustomStringConvertible>(
        _ value: Number, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> JSONTreeNode {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: path + (key.map { [$0] } ?? []), debugDescription: "not a JSON number"))
        }
        return .number(Self.trimmed(value.description))
    }

    /// `JSONEncoder` writes an integral floating-point number without its `.0`.
    private static func trimmed(_ description: String) -> String {
        description.hasSuffix(".0") ? String(description.dropLast(2)) : description
    }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: TreeEncoder
    let object: JSONTreeNode.ObjectNode
    let codingPath: [any CodingKey]

    private func set(_ node: JSONTreeNode, _ key: Key) { object.members[key.stringValue] = node }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try TreeEncoder.number(value, path: codingPath, key: key), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try TreeEncoder.number(value, path: codingPath, key: key), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(.number(String(value)), key) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { encoder.context.unsupported = true }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { encoder.context.unsupported = true }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { set(try encoder.box(value, at: key), key) }

    /// As with `JSONEncoder`, a nested container asked for again under the same key (or after an
    /// object was encoded there) adds to what is there; anything else there is `JSONEncoder`'s
    /// to judge.
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested: JSONTreeNode.ObjectNode
        switch object.members[key.stringValue] {
        case .object(let existing)?: nested = existing
        case nil: nested = JSONTreeNode.ObjectNode()
        case _?:
            encoder.context.unsupported = true
            nested = JSONTreeNode.ObjectNode()
        }
        set(.object(nested), key)
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(encoder: encoder, object: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested: JSONTreeNode.ArrayNode
        switch object.members[key.stringValue] {
        case .array(let existing)?: nested = existing
        case nil: nested = JSONTreeNode.ArrayNode()
        case _?:
            encoder.context.unsupported = true
            nested = JSONTreeNode.ArrayNode()
        }
        set(.array(nested), key)
        return UnkeyedTreeContainer(encoder: encoder, array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { unsupported() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { unsupported() }

    /// An encoder whose output is dropped: the whole value goes to `JSONEncoder` instead.
    private func unsupported() -> any Encoder {
        encoder.context.unsupported = true
        return TreeEncoder(context: encoder.context, codingPath: codingPath)
    }
}

struct UnkeyedTreeContainer: UnkeyedEncodingContainer {
    let encoder: TreeEncoder
    let array: JSONTreeNode.ArrayNode
    let codingPath: [any CodingKey]
    var count: Int { array.elements.count }

    private func append(_ node: JSONTreeNode) { array.elements.append(node) }
    private var index: any CodingKey { IndexKey(intValue: count) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try TreeEncoder.number(value, path: codingPath, key: index)) }
    mutating func encode(_ value: Float) throws { append(try TreeEncoder.number(value, path: codingPath, key: index)) }
    mutating func encode(_ value: Int) throws { append(.number(String(value))) }
    mutating func encode(_ value: Int8) throws { append(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { append(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { append(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { append(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { append(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { append(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { append(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { append(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { append(.number(String(value))) }
    mutating func encode(_ value: Int128) throws { encoder.context.unsupported = true }
    mutating func encode(_ value: UInt128) throws { encoder.context.unsupported = true }
    mutating func encode<T: Encodable>(_ value: T) throws { append(try encoder.box(value, at: index)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONTreeNode.ObjectNode()
        let path = codingPath + [index]
        append(.object(nested))
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(encoder: encoder, object: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONTreeNode.ArrayNode()
        let path = codingPath + [index]
        append(.array(nested))
        return UnkeyedTreeContainer(encoder: encoder, array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        encoder.context.unsupported = true
        return TreeEncoder(context: encoder.context, codingPath: codingPath)
    }

    /// An array position as a coding key, for error paths.
    private struct IndexKey: CodingKey {
        var stringValue: String { "Index \(intValue!)" }
        var intValue: Int?
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }
}

struct SingleTreeContainer: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    /// A single value container holds one value; a second one is `JSONEncoder`'s to judge.
    private func set(_ node: JSONTreeNode) {
        if encoder.result != nil { encoder.context.unsupported = true }
        encoder.result = node
    }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try TreeEncoder.number(value, path: codingPath, key: nil)) }
    mutating func encode(_ value: Float) throws { set(try TreeEncoder.number(value, path: codingPath, key: nil)) }
    mutating func encode(_ value: Int) throws { set(.number(String(value))) }
    mutating func encode(_ value: Int8) throws { set(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { set(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { set(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { set(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { set(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { set(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { set(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { set(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { set(.number(String(value))) }
    mutating func encode(_ value: Int128) throws { encoder.context.unsupported = true }
    mutating func encode(_ value: UInt128) throws { encoder.context.unsupported = true }
    mutating func encode<T: Encodable>(_ value: T) throws { set(try encoder.box(value)) }
}

/// Writes a ``JSONTreeNode`` compactly, members sorted by their UTF-8 bytes (as `JSONEncoder`'s
/// `.sortedKeys` sorts them on Linux: no normalization), strings as ``JSONWriter`` writes them for
/// a file (escaped as `JSONEncoder` escapes them with `.withoutEscapingSlashes`).
enum JSONTreeWriter {
    /// Containers nested this deep or deeper are left to `JSONEncoder`, which refuses 512 levels
    /// (and the package's parser and `JSONDecoder` read no more than 512): a state written here
    /// never nests deeper than one the old path would have written.
    static let deepestContainer = 510

    /// Writes `node`; false (with `out` partly written) when it nests containers deeper than
    /// ``deepestContainer``.
    static func write(_ node: JSONTreeNode, into out: inout [UInt8]) -> Bool {
        write(node, into: &out, depth: 1)
    }

    private static func write(_ node: JSONTreeNode, into out: inout [UInt8], depth: Int) -> Bool {
        switch node {
        case .array, .object: guard depth <= deepestContainer else { return false }
        default: break
        }
        switch node {
        case .null: out += "null".utf8
        case .bool(let flag): out += (flag ? "true" : "false").utf8
        case .number(let text): out += text.utf8
        case .string(let text): JSONWriter.appendString(text, to: &out)
        case .array(let array):
            out.append(UInt8(ascii: "["))
            for (position, element) in array.elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                guard write(element, into: &out, depth: depth + 1) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (position, member) in object.members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                guard write(member.value, into: &out, depth: depth + 1) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        }
        return true
    }
}
