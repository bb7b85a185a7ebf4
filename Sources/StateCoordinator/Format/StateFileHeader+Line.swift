import StateJSON

extension StateFileHeader {
    /// The header line (without its line feed) as `JSONEncoder` with sorted keys and unescaped
    /// slashes writes it, byte for byte, written directly: every commit writes one, and the general
    /// encoder (reflection over `Codable`, a dictionary per object, a sort) cost more than the rest
    /// of a small commit's user-space work. The members are the header's, in sorted order; the
    /// tests compare the two writers on headers of every revision and on strings that need escapes.
    var line: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + writer.host.utf8.count + writer.label.utf8.count)
        out += #"{"checksum":"#.utf8
        JSONWriter.appendString(checksum, to: &out)
        if let combined {
            out += #","combined":["#.utf8
            for (position, id) in combined.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(id, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += #","committedAt":"#.utf8
        JSONWriter.appendString(committedAt, to: &out)
        out += #","format":"#.utf8
        JSONWriter.appendString(format, to: &out)
        out += #","revision":"#.utf8
        Self.appendDecimal(revision, to: &out)
        out += #","settings":{"fileMode":""#.utf8
        let octal = String(settings.fileMode, radix: 8)
        out += repeatElement(UInt8(ascii: "0"), count: max(0, 4 - octal.utf8.count))
        out += octal.utf8
        out += #"","keepHistory":"#.utf8
        Self.appendDecimal(settings.keepHistory, to: &out)
        if let seconds = settings.keepHistoryFor?.components.seconds {
            out += #","keepHistorySeconds":"#.utf8
            Self.appendDecimal(seconds, to: &out)
        }
        out += #","maxStateBytes":"#.utf8
        Self.appendDecimal(settings.maximumStateBytes, to: &out)
        if let users = settings.readerUsers {
            out += #","readerUsers":["#.utf8
            for (position, user) in users.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendDecimal(user, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        if let schema = settings.schema {
            out += #","schema":"#.utf8
            JSONWriter.appendString(schema, to: &out)
        }
        out += #"},"stateBytes":"#.utf8
        Self.appendDecimal(stateBytes, to: &out)
        out += #","store":"#.utf8
        JSONWriter.appendString(store, to: &out)
        out += #","version":"#.utf8
        Self.appendDecimal(version, to: &out)
        out += #","writer":{"host":"#.utf8
        JSONWriter.appendString(writer.host, to: &out)
        out += #","label":"#.utf8
        JSONWriter.appendString(writer.label, to: &out)
        out += #","pid":"#.utf8
        Self.appendDecimal(writer.pid, to: &out)
        out += "}}".utf8
        return out
    }

    /// Appends the number's decimal digits straight into `out` (through `String(number)` it was
    /// an unspecialized generic conversion and a string per field: 1.3% of a 1 KiB commit).
    private static func appendDecimal<Number: BinaryInteger>(_ number: Number, to out: inout [UInt8]) {
        if number < 0 {
            out.append(UInt8(ascii: "-"))
            appendDigits(UInt64(number.magnitude), to: &out)
        } else {
            appendDigits(UInt64(number), to: &out)
        }
    }

    private static func appendDigits(_ value: UInt64, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 20 digits at most, in 32 bytes
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[31 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(32 - count)...])
        }
    }
}
