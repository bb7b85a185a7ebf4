/// The one JSON parser of the package: strict RFC 8259, on every input path (state files,
/// headers, statectl's values and documents), so that Swift accepts exactly what the protocol's
/// Python participant accepts.
///
/// Refused, each with its line and column: trailing commas, comments, single quotes, `NaN` and
/// `Infinity`, leading zeros, a number too large for a double (`1e400`), control characters and
/// invalid escapes in strings, a `\u` escape that is a lone surrogate, invalid UTF-8, anything
/// after the value, nesting deeper than ``maximumDepth``, and an object with a **duplicate
/// name** (Python and jq would keep the last one silently; for a trading state a lost member is
/// a wrong state, so it is an error here, and the Python participant refuses it too).
///
/// Numbers are kept exactly: an integer literal (no fraction, no exponent) is ``JSONValue/int(_:)``
/// when it fits in 64 bits and ``JSONValue/largeInteger(_:)`` with its digits otherwise; a literal
/// with a fraction or exponent is ``JSONValue/double(_:)``, and stays one when written back (`1.0`).
package struct JSONParser {
    /// The deepest nesting of arrays and objects accepted (as Foundation's `JSONDecoder`).
    package static let maximumDepth = 512

    private struct Failure: Error {
        var message: String
        var offset: Int
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private let build: Bool
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>, build: Bool) {
        self.bytes = bytes
        self.build = build
    }

    /// Parses a whole JSON text into a value.
    package static func parse(_ bytes: some Collection<UInt8>) throws(JSONValue.ParseError) -> JSONValue {
        // `build` is true, so a value always comes back.
        try run(bytes, build: true)!
    }

    /// Checks that a whole text is strict JSON without building its value (before a typed decode).
    package static func check(_ bytes: some Collection<UInt8>) throws(JSONValue.ParseError) {
        _ = try run(bytes, build: false)
    }

    private static func run(_ bytes: some Collection<UInt8>, build: Bool) throws(JSONValue.ParseError) -> JSONValue? {
        let outcome = bytes.withContiguousStorageIfAvailable { buffer in parse(buffer, build: build) }
            ?? Array(bytes).withUnsafeBufferPointer { parse($0, build: build) }
        return try outcome.get()
    }

    private static func parse(_ buffer: UnsafeBufferPointer<UInt8>, build: Bool) -> Result<JSONValue?, JSONValue.ParseError> {
        if let invalid = firstInvalidUTF8(buffer) {
            return .failure(error(at: invalid, in: buffer, "not valid UTF-8"))
        }
        var parser = JSONParser(buffer, build: build)
        do throws(Failure) {
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw Failure(message: "unexpected text after the JSON value", offset: parser.index) }
            return .success(value)
        } catch {
            return .failure(Self.error(at: error.offset, in: buffer, error.message))
        }
    }

    private static func error(at offset: Int, in buffer: UnsafeBufferPointer<UInt8>, _ message: String) -> JSONValue.ParseError {
        var line = 1, column = 1
        for byte in buffer.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // count characters, not continuation bytes
                column += 1
            }
        }
        return JSONValue.ParseError(description: "line \(line), column \(column): \(message)")
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    private static func firstInvalidUTF8(_ buffer: UnsafeBufferPointer<UInt8>) -> Int? {
        if String(validating: buffer, as: UTF8.self) != nil { return nil }
        var index = 0
        while index < buffer.count {
            let lead = buffer[index]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            guard length > 0, index + length <= buffer.count,
                String(validating: UnsafeBufferPointer(rebasing: buffer[index..<(index + length)]), as: UTF8.self) != nil
            else { return index }
            index += length
        }
        return buffer.count
    }

    // MARK: Values

    private mutating func value(depth: Int) throws(Failure) -> JSONValue? {
        skipWhitespace()
        guard index < bytes.count else { throw Failure(message: "unexpected end of input, expected a value", offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return try string().map(JSONValue.string)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw Failure(message: "unexpected \(describe(bytes[index])), expected a value", offset: index)
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(Failure) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
            UnsafeBufferPointer(start: word.utf8Start, count: count).elementsEqual(bytes[index..<(index + count)])
        else { throw Failure(message: "unexpected \(describe(bytes[index])), expected a value", offset: index) }
        index += count
        return build ? value : nil
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue? {
        guard depth <= Self.maximumDepth else {
            throw Failure(message: "nested deeper than \(Self.maximumDepth) levels", offset: index)
        }
        index += 1
        var members: [JSONKey: JSONValue] = [:]
        var names: Set<JSONKey> = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return build ? .object(members) : nil }
        while true {
            skipWhitespace()
            let nameOffset = index
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw Failure(message: unexpected("a member name in double quotes"), offset: index)
            }
            let name = try string(always: true)!
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw Failure(message: unexpected("':' after a member name"), offset: index) }
            let member = try value(depth: depth)
            let key = JSONKey(name)
            guard names.insert(key).inserted else {
                throw Failure(message: "duplicate name \"\(name)\" in one object", offset: nameOffset)
            }
            if build { members[key] = member }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return build ? .object(members) : nil }
            throw Failure(message: unexpected("',' or '}'"), offset: index)
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue? {
        guard depth <= Self.maximumDepth else {
            throw Failure(message: "nested deeper than \(Self.maximumDepth) levels", offset: index)
        }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return build ? .array(elements) : nil }
        while true {
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                throw Failure(message: "trailing comma before ']'", offset: index)
            }
            let element = try value(depth: depth)
            if build, let element { elements.append(element) }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return build ? .array(elements) : nil }
            throw Failure(message: unexpected("',' or ']'"), offset: index)
        }
    }

    // MARK: Strings

    /// Reads a string starting at its opening quote; its value when building (or `always`).
    private mutating func string(always: Bool = false) throws(Failure) -> String? {
        let start = index
        index += 1
        var decoded: [UInt8] = []
        let keep = build || always
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if keep { decoded.append(contentsOf: bytes[runStart..<index]) }
                index += 1
                return keep ? String(decoding: decoded, as: UTF8.self) : nil
            }
            if byte < 0x20 {
                throw Failure(message: "control character \(describe(byte)) in a string (escape it)", offset: index)
            }
            if byte == UInt8(ascii: "\\") {
                if keep { decoded.append(contentsOf: bytes[runStart..<index]) }
                try escape(into: &decoded, keep: keep)
                runStart = index
                continue
            }
            index += 1
        }
        throw Failure(message: "unterminated string", offset: start)
    }

    private mutating func escape(into decoded: inout [UInt8], keep: Bool) throws(Failure) {
        let start = index
        index += 1
        guard index < bytes.count else { throw Failure(message: "unterminated string", offset: start) }
        let simple: UInt8?
        switch bytes[index] {
        case UInt8(ascii: "\""): simple = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): simple = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): simple = UInt8(ascii: "/")
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"): simple = nil
        default: throw Failure(message: "invalid escape \\\(Character(Unicode.Scalar(bytes[index])))", offset: start)
        }
        if let simple {
            index += 1
            if keep { decoded.append(simple) }
            return
        }
        index += 1
        var scalar = try hexQuad(escapeAt: start)
        if (0xD800...0xDBFF).contains(scalar) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw Failure(message: "lone surrogate \\u\(hex(scalar)) is not a character", offset: start)
            }
            let low = index
            index += 2
            let second = try hexQuad(escapeAt: low)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw Failure(message: "lone surrogate \\u\(hex(scalar)) is not a character", offset: start)
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (second - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw Failure(message: "lone surrogate \\u\(hex(scalar)) is not a character", offset: start)
        }
        if keep, let character = Unicode.Scalar(scalar) { decoded.append(contentsOf: String(character).utf8) }
    }

    private mutating func hexQuad(escapeAt start: Int) throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Failure(message: "\\u needs four hex digits", offset: start) }
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Failure(message: "\\u needs four hex digits", offset: start)
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: Numbers

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func number() throws(Failure) -> JSONValue? {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw Failure(message: "a number needs a digit after '-'", offset: index)
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw Failure(message: "a number cannot have a leading zero", offset: start)
            }
        } else {
            skipDigits()
        }
        let integerDigits = index - start
        var isInteger = true
        var hasExponent = false
        if consume(UInt8(ascii: ".")) {
            isInteger = false
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw Failure(message: "a number needs a digit after '.'", offset: index)
            }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            hasExponent = true
            index += 1
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw Failure(message: "a number needs a digit in its exponent", offset: index)
            }
            skipDigits()
        }
        // Checking only: an integer is always valid, and so is a literal without an exponent and
        // with fewer than 309 digits before its point (it cannot overflow a double).
        if !build, isInteger || (!hasExponent && integerDigits < 309) { return nil }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger { return Int64(text).map(JSONValue.int) ?? .largeInteger(text) }
        guard let double = Double(text), double.isFinite else {
            throw Failure(message: "the number \(text) is out of the range of a double", offset: start)
        }
        return build ? .double(double) : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    // MARK: Lexing

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private func unexpected(_ expected: String) -> String {
        guard index < bytes.count else { return "unexpected end of input, expected \(expected)" }
        if bytes[index] == UInt8(ascii: "}") || bytes[index] == UInt8(ascii: "]"), expected.hasPrefix("a member name") {
            return "trailing comma before '\(Character(Unicode.Scalar(bytes[index])))'"
        }
        return "unexpected \(describe(bytes[index])), expected \(expected)"
    }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let digits = String(byte, radix: 16, uppercase: true)
        return "byte 0x" + (digits.count < 2 ? "0" : "") + digits
    }
}
