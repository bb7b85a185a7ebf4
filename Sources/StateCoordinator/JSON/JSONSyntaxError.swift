import Foundation

/// Says where a JSON text is malformed, as line and column (1-based, columns in bytes).
///
/// `JSONDecoder` on Linux reports only "not valid JSON"; `JSONSerialization` reports a byte
/// offset ("around character 15"), which this turns into a position a person can find.
enum JSONSyntaxError {
    /// `line 2, column 7: Invalid value`, or nil when the text is valid JSON.
    static func describe(_ bytes: some Collection<UInt8>) -> String? {
        let data = Data(bytes)
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            let offset = characterOffset(in: detail) ?? data.count
            let (line, column) = position(of: offset, in: data)
            let reason = detail.replacing(/\s(around|starting from) character \d+/, with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            return "line \(line), column \(column): \(reason)"
        }
    }

    private static func characterOffset(in detail: String) -> Int? {
        guard let match = detail.firstMatch(of: /character (\d+)/) else { return nil }
        return Int(match.1)
    }

    private static func position(of offset: Int, in data: Data) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in data.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
