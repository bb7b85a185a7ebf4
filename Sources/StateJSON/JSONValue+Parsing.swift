import Foundation

extension JSONValue {
    /// Why a text is not a JSON value: not UTF-8, or not JSON (with line and column).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// `line 2, column 7: Invalid value`, or where the first invalid UTF-8 byte is.
        public var description: String
    }

    /// Parses a JSON text (any JSON value, including a bare number or string) with the package's
    /// strict RFC 8259 parser: no trailing commas, comments, NaN, duplicate names or invalid UTF-8;
    /// numbers kept exactly (see ``JSONValue``); at most 512 levels of nesting.
    /// - Throws: ``ParseError`` saying where (line and column) and what is wrong.
    public init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        self = try JSONParser.parse(bytes)
    }

    /// Why a value cannot be written as JSON text: a NaN or infinite double, or a
    /// ``largeInteger(_:)`` that holds no integer.
    public struct EncodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// `/px: nan is not a JSON number (JSON has no NaN or infinity)`.
        public var description: String
    }

    /// The value as JSON text: compact, or indented by two spaces (`"name" : value`), names
    /// sorted by code point. Text for people: besides what RFC 8259 requires, DEL, the C1
    /// controls and the bidirectional formatting characters are escaped (`\u009b`), so that a
    /// state cannot drive or reorder the terminal it is printed on; the value is the same.
    /// - Throws: ``EncodingError`` for a NaN or infinite double (which no JSON text holds).
    public func jsonText(pretty: Bool = false) throws(EncodingError) -> String {
        String(decoding: try JSONWriter.write(self, pretty: pretty, forTerminal: true), as: UTF8.self)
    }

    /// The value as compact JSON text with sorted names; a value that has no JSON text (a NaN
    /// put in by code) is described instead, never silently printed as `null`: use
    /// ``jsonText(pretty:)`` to be told.
    public var compactJSON: String { (try? jsonText(pretty: false)) ?? "<not JSON: \(self)>" }
    /// The value as indented JSON text with sorted names (see ``compactJSON``).
    public var prettyJSON: String { (try? jsonText(pretty: true)) ?? "<not JSON: \(self)>" }
}
