/// Writes a ``JSONValue`` as JSON text: names sorted by their UTF-8 bytes (code point order, as
/// Python's `sort_keys`), strings escaped as RFC 8259 requires (quote, backslash, control
/// characters; everything else as UTF-8), integers as their digits, doubles always with a
/// fraction or exponent (`1.0`, `1e+300`) so that they read back as doubles.
package enum JSONWriter {
    /// - Parameter forTerminal: also escape DEL, the C1 controls and the bidirectional
    ///   formatting characters (text for people; the state file keeps them as UTF-8).
    package static func write(_ value: JSONValue, pretty: Bool, forTerminal: Bool = false) throws(JSONValue.EncodingError) -> [UInt8] {
        var output: [UInt8] = []
        try write(value, into: &output, pretty: pretty, terminal: forTerminal, indent: 0, path: "")
        return output
    }

    private static func write(
        _ value: JSONValue, into output: inout [UInt8], pretty: Bool, terminal: Bool, indent: Int, path: String
    ) throws(JSONValue.EncodingError) {
        switch value {
        case .null: output += "null".utf8
        case .bool(let flag): output += (flag ? "true" : "false").utf8
        case .int(let integer): output += String(integer).utf8
        case .largeInteger(let digits):
            guard isIntegerLiteral(digits) else {
                throw JSONValue.EncodingError(description: "\(path.isEmpty ? "the value" : path): \(digits) is not an integer")
            }
            output += digits.utf8
        case .double(let double):
            guard double.isFinite else {
                throw JSONValue.EncodingError(description: "\(path.isEmpty ? "the value" : path): \(double) is not a JSON number (JSON has no NaN or infinity)")
            }
            output += "\(double)".utf8  // Swift's shortest round-trip form: 1.0, 0.1, 1e+300
        case .string(let text): writeString(text, into: &output, terminal: terminal)
        case .array(let elements):
            guard !elements.isEmpty else { return output += "[]".utf8 }
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, pretty: pretty, indent: indent + 1)
                try write(element, into: &output, pretty: pretty, terminal: terminal, indent: indent + 1, path: path + "/\(position)")
            }
            newline(&output, pretty: pretty, indent: indent)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return output += "{}".utf8 }
            output.append(UInt8(ascii: "{"))
            for (position, key) in members.keys.sorted().enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, pretty: pretty, indent: indent + 1)
                writeString(key.name, into: &output, terminal: terminal)
                output += (pretty ? " : " : ":").utf8
                try write(members[key]!, into: &output, pretty: pretty, terminal: terminal, indent: indent + 1, path: path + JSONPointer.escaped(key.name))
            }
            newline(&output, pretty: pretty, indent: indent)
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ output: inout [UInt8], pretty: Bool, indent: Int) {
        guard pretty else { return }
        output.append(UInt8(ascii: "\n"))
        output += repeatElement(UInt8(ascii: " "), count: indent * 2)
    }

    /// Appends `text` as a JSON string (quoted, escaped as ``write(_:pretty:forTerminal:)`` escapes
    /// strings for a file): for writers of fixed shapes (the state file's header line).
    package static func appendString(_ text: String, to output: inout [UInt8]) {
        writeString(text, into: &output, terminal: false)
    }

    private static func writeString(_ text: String, into output: inout [UInt8], terminal: Bool) {
        guard terminal else { return writeFileString(text, into: &output) }
        output.append(UInt8(ascii: "\""))
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == 0x7F || byte == 0xC2 || byte == 0xD8 || byte == 0xE2, let (scalar, length) = terminalControl(bytes, at: index - 1) {
                output += ("\\u" + String(repeating: "0", count: 4 - String(scalar, radix: 16).count) + String(scalar, radix: 16)).utf8
                index += length - 1
                continue
            }
            appendEscaped(byte, to: &output)
        }
        output.append(UInt8(ascii: "\""))
    }

    /// A string for a file: the runs between characters that need an escape (quote, backslash,
    /// control characters) are copied whole, found eight bytes at a time (a state's long strings
    /// are written at every commit).
    private static func writeFileString(_ text: String, into output: inout [UInt8]) {
        var text = text
        output.append(UInt8(ascii: "\""))
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var runStart = 0
            var index = 0
            while index < bytes.count {
                if index + 8 <= bytes.count, !mayNeedEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
                    index += 8
                    continue
                }
                let byte = bytes[index]
                index += 1
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<(index - 1)]))
                runStart = index
                appendEscaped(byte, to: &output)
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Whether one of the eight bytes may be a control character, a quote or a backslash (no
    /// false negatives; a false positive only sends the word through the byte loop).
    @inline(__always)
    private static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let below0x20 = (word &- ones &* 0x20) & ~word
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (below0x20 | quote | backslash) & highs != 0
    }

    /// One byte of a string: escaped if JSON requires it (as `JSONEncoder` escapes it), else as is.
    @inline(__always)
    private static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): output += #"\""#.utf8
        case UInt8(ascii: "\\"): output += #"\\"#.utf8
        case 0x0A: output += #"\n"#.utf8
        case 0x0D: output += #"\r"#.utf8
        case 0x09: output += #"\t"#.utf8
        case 0x08: output += #"\b"#.utf8
        case 0x0C: output += #"\f"#.utf8
        case 0..<0x20:
            output += #"\u00"#.utf8
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0xF)])
        default: output.append(byte)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The code point and UTF-8 length of DEL, a C1 control (U+0080–U+009F), or a bidirectional
    /// formatting character (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) starting at
    /// `start`; nil for anything else.
    private static func terminalControl(_ bytes: [UInt8], at start: Int) -> (UInt32, Int)? {
        func at(_ offset: Int) -> UInt8? { start + offset < bytes.count ? bytes[start + offset] : nil }
        switch (bytes[start], at(1), at(2)) {
        case (0x7F, _, _): return (0x7F, 1)
        case (0xC2, let second?, _) where (0x80...0x9F).contains(second): return (UInt32(second), 2)
        case (0xD8, 0x9C?, _): return (0x061C, 2)
        case (0xE2, 0x80?, let third?) where third == 0x8E || third == 0x8F || (0xAA...0xAE).contains(third):
            return (0x2000 | UInt32(third & 0x3F), 3)
        case (0xE2, 0x81?, let third?) where (0xA6...0xA9).contains(third): return (0x2040 | UInt32(third & 0x3F), 3)
        default: return nil
        }
    }

    /// `-?(0|[1-9][0-9]*)`
    package static func isIntegerLiteral(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard let first = digits.first, first.isASCII, first.isNumber else { return false }
        return (first != "0" || digits.count == 1) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
