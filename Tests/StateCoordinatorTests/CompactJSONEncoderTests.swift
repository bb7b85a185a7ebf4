import Foundation
import StateJSON
import Testing

@testable import StateCoordinator

/// The commit path's encoder writes exactly what `JSONEncoder` (sorted keys, slashes unescaped)
/// writes, and fails where it fails.
@Suite("Compact JSON encoder")
struct CompactJSONEncoderTests {
    private static func foundation<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try StateEncoding.makeEncoder().encode(value)) }

    private static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try foundation(value)
        let actual = try CompactJSONEncoder.encode(value)
        #expect(
            actual == expected, "\(String(decoding: actual, as: UTF8.self)) ≠ \(String(decoding: expected, as: UTF8.self))",
            sourceLocation: sourceLocation)
    }

    struct Position: Codable { var symbol: String; var quantity: Int64; var price: Double; var note: String? }
    enum Side: Codable { case buy(limit: Double), sell, cancel(String, Int) }
    struct Book: Codable {
        var halt: Bool
        var positions: [String: Position]
        var byID: [Int: String]
        var sides: [Side]
        var limits: [Double]
        var small: Float
        var tiny: Int8, wide: UInt64, negative: Int16, unsigned: UInt32, word: UInt
        var blob: Data
        var link: URL
        var when: Date
        var nothing: String?
        var nested: [[String: [Int]]]
        var empty: [String: Int]
        var text: String
    }

    @Test func typedStatesMatchJSONEncoder() throws {
        let book = Book(
            halt: true,
            positions: ["AAPL": Position(symbol: "AAPL", quantity: -100, price: 187.25, note: nil),
                        "b/c": Position(symbol: "é\"\\\n\t\u{01}\u{1F}\u{7F}✓", quantity: Int64.min, price: 1e300, note: "x")],
            byID: [10: "ten", 9: "nine", -1: "minus"], sides: [.buy(limit: 100), .sell, .cancel("why", 3)],
            limits: [0, -0.0, 1, 0.1, 100, 1e16, 1e-7, 123456789012.5, .leastNonzeroMagnitude, Double.greatestFiniteMagnitude],
            small: 0.1, tiny: -128, wide: UInt64.max, negative: Int16.min, unsigned: UInt32.max, word: UInt.max,
            blob: Data([0, 1, 2, 250, 255]), link: URL(string: "https://example.com/a?b=c&d=é")!,
            when: Date(timeIntervalSinceReferenceDate: 1234.5), nothing: nil,
            nested: [["b": [1, 2], "a": []], [:]], empty: [:], text: String(repeating: "long run without escapes ", count: 400) + "\"")
        try Self.expectSame(book)
        try Self.expectSame([book, book])
        try Self.expectSame(["Z": 1, "a": 2, "_": 3, "a10": 4, "a9": 5, "é": 6, "e\u{301}x": 7])
    }

    @Test func fragmentsAndEmptyValuesMatchJSONEncoder() throws {
        try Self.expectSame("top-level string")
        try Self.expectSame(42)
        try Self.expectSame(2.5)
        try Self.expectSame(Optional<Int>.none)
        try Self.expectSame([Int]())
        struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }
        #expect(throws: EncodingError.self) { try Self.foundation(Nothing()) }
        #expect(throws: EncodingError.self) { try CompactJSONEncoder.encode(Nothing()) }
        try Self.expectSame([Nothing()])
        try Self.expectSame(["n": Nothing()])
    }

    /// What only `JSONEncoder` writes is handed to it whole: a `Decimal`, `superEncoder`, 128-bit
    /// integers, a `JSONValue` with a large integer.
    @Test func whatItDoesNotWriteIsWrittenByJSONEncoder() throws {
        try Self.expectSame(["price": Decimal(string: "12.340")!])
        class Base: Encodable { var a = 1 }
        final class Derived: Base {
            var b = 2
            override func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(b, forKey: .b)
                try super.encode(to: container.superEncoder())
            }
            enum CodingKeys: String, CodingKey { case b }
        }
        try Self.expectSame(Derived())
        try Self.expectSame(["big": Int128.max])
        try Self.expectSame(JSONValue.object(["n": .largeInteger("123456789012345678901234567890")]))
    }

    /// Containers nested to JSONEncoder's limit and past it: the same text, or an error from both
    /// (the store's parser reads no deeper than 512 either, so nothing unreadable is written).
    @Test(arguments: [1, 100, 509, 510, 511, 512, 513, 600])
    func deepNestingMatchesJSONEncoder(_ depth: Int) throws {
        var value = JSONValue.int(1)
        for level in 0..<depth { value = level.isMultiple(of: 2) ? .array([value]) : .object(["k": value]) }
        let foundation = try? Self.foundation(value)
        let compact = try? CompactJSONEncoder.encode(value)
        #expect(compact == foundation, "depth \(depth): \(compact == nil ? "compact failed" : "compact wrote") vs \(foundation == nil ? "JSONEncoder failed" : "JSONEncoder wrote")")
        if depth <= 511 { #expect(foundation != nil) }
    }

    /// A nested container asked for again under a key adds to what is there, as with JSONEncoder;
    /// another kind of value there is JSONEncoder's to judge.
    @Test func nestedContainersUnderOneKeyMerge() throws {
        struct Inner: Encodable { var a = 1 }
        struct Merging: Encodable {
            enum Keys: String, CodingKey { case meta, list, extra, b }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(Inner(), forKey: .meta)
                var meta = container.nestedContainer(keyedBy: Keys.self, forKey: .meta)
                try meta.encode(2, forKey: .extra)
                var again = container.nestedContainer(keyedBy: Keys.self, forKey: .meta)
                try again.encode(3, forKey: .b)
                var list = container.nestedUnkeyedContainer(forKey: .list)
                try list.encode(1)
                var more = container.nestedUnkeyedContainer(forKey: .list)
                try more.encode(2)
            }
        }
        try Self.expectSame(Merging())
        #expect(String(decoding: try CompactJSONEncoder.encode(Merging()), as: UTF8.self) == #"{"list":[1,2],"meta":{"a":1,"b":3,"extra":2}}"#)
    }

    @Test func notANumberFailsAsWithJSONEncoder() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try CompactJSONEncoder.encode(["x": value]) }
            #expect(throws: EncodingError.self) { try Self.foundation(["x": value]) }
        }
        #expect(throws: EncodingError.self) { try CompactJSONEncoder.encode([Float.nan]) }
    }

    /// 2,000 random JSON values (seeded), through `JSONValue`'s `Encodable` conformance.
    @Test func randomValuesMatchJSONEncoder() throws {
        var generator = SplitMix64(seed: 2412)
        for _ in 0..<2000 {
            try Self.expectSame(Self.randomValue(depth: 0, &generator))
        }
    }

    private static func randomValue(depth: Int, _ generator: inout SplitMix64) -> JSONValue {
        let pieces = ["a", "B", "é", "\"", "\\", "/", "\n", "\u{02}", "✓", "x y", "0", "𝄞"]
        func text(_ generator: inout SplitMix64) -> String {
            (0..<Int(generator.next() % 6)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
        }
        switch generator.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(generator.next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: generator.next()) >> Int64(generator.next() % 64))
        case 3:
            let value = Double(bitPattern: generator.next())
            return .double(value.isFinite ? value : Double(Int64(bitPattern: generator.next() >> 12)) / 1000)
        case 4: return .string(text(&generator))
        case 5: return .array((0..<Int(generator.next() % 5)).map { _ in randomValue(depth: depth + 1, &generator) })
        default:
            var members: [JSONKey: JSONValue] = [:]
            for _ in 0..<Int(generator.next() % 5) { members[JSONKey(text(&generator))] = randomValue(depth: depth + 1, &generator) }
            return .object(members)
        }
    }
}
