/// Writes a ``JSONValue`` as JSON text: names sorted by their UTF-8 bytes (code point order, as
/// Python's `sort_keys`), strings escaped as RFC 8259 requires (quote, backslash, control
/// characters; everything else as UTF-8), integers as their digits, doubles always with a
/// fraction or exponent (`1.0`, `1e+300`) so that they read back as doubles.
enum JSONWriter {
    static func write(_ value: JSONValue, pretty: Bool) throws(JSONValue.EncodingError) -> [UInt8] {
        var output: [UInt8] = []
        try write(value, into: &output, pretty: pretty, indent: 0, path: "")
        return output
    }

    private static func write(
        _ value: JSONValue, into output: inout [UInt8], pretty: Bool, indent: Int, path: String
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
        case .string(let text): writeString(text, into: &output)
        case .array(let elements):
            guard !elements.isEmpty else { return output += "[]".utf8 }
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, pretty: pretty, indent: indent + 1)
                try write(element, into: &output, pretty: pretty, indent: indent + 1, path: path + "/\(position)")
            }
            newline(&output, pretty: pretty, indent: indent)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return output += "{}".utf8 }
            output.append(UInt8(ascii: "{"))
            for (position, key) in members.keys.sorted().enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, pretty: pretty, indent: indent + 1)
                writeString(key.name, into: &output)
                output += (pretty ? " : " : ":").utf8
                try write(members[key]!, into: &output, pretty: pretty, indent: indent + 1, path: path + JSONPointer.escaped(key.name))
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

    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += #"\""#.utf8
            case UInt8(ascii: "\\"): output += #"\\"#.utf8
            case 0x0A: output += #"\n"#.utf8
            case 0x0D: output += #"\r"#.utf8
            case 0x09: output += #"\t"#.utf8
            case 0x08: output += #"\b"#.utf8
            case 0x0C: output += #"\f"#.utf8
            case 0..<0x20:
                let digits = String(byte, radix: 16)
                output += ("\\u00" + (digits.count < 2 ? "0" : "") + digits).utf8
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// `-?(0|[1-9][0-9]*)`
    static func isIntegerLiteral(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard let first = digits.first, first.isASCII, first.isNumber else { return false }
        return (first != "0" || digits.count == 1) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
