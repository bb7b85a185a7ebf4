import Foundation

extension JSONValue {
    /// Why a text is not a JSON value: not UTF-8, or not JSON (with line and column).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// `line 2, column 7: Invalid value`, or where the first invalid UTF-8 byte is.
        public var description: String
    }

    /// Parses a JSON text (any JSON value, including a bare number or string).
    /// - Throws: ``ParseError`` saying where the text is not UTF-8 or not JSON.
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        let array = Array(bytes)
        if String(validating: array, as: UTF8.self) == nil {
            throw ParseError(description: "not valid UTF-8 (\(Self.firstInvalidUTF8(array)))")
        }
        do {
            self = try JSONDecoder().decode(JSONValue.self, from: Data(array))
        } catch {
            throw ParseError(description: JSONSyntaxError.describe(array) ?? "not valid JSON")
        }
    }

    /// `line L, column C` of the first byte that does not start or continue a valid UTF-8 sequence.
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> String {
        var line = 1, column = 1, index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            guard length > 0, index + length <= bytes.count,
                String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil
            else { return "line \(line), column \(column)" }
            if lead == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += length
        }
        return "line \(line), column \(column)"
    }

    /// The value as compact JSON text with sorted keys.
    public var compactJSON: String { Self.encoded(self, pretty: false) }
    /// The value as indented JSON text with sorted keys.
    public var prettyJSON: String { Self.encoded(self, pretty: true) }

    private static func encoded(_ value: JSONValue, pretty: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Only non-finite doubles fail to encode, and JSONValue never holds one from JSON text.
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
