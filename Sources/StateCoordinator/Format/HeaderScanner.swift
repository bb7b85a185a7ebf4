/// A small, strict reader for the header line, for the reload path: a watcher parses one header
/// per commit, and `JSONDecoder` (a general decoder with a large code footprint, run with cold
/// caches right after a wake-up) cost more than the rest of a 4 KiB reload together.
///
/// It accepts a subset of JSON: one object holding exactly the header's members (any order, any
/// whitespace), strings without escapes, non-negative integers without fraction or exponent.
/// Anything else — an escape, an unknown member, a duplicate, a malformed byte — makes it return
/// nil, and the caller falls back to `JSONDecoder`, which either decodes the line or explains what
/// is wrong with it. So for any line it accepts, the result equals `JSONDecoder`'s.
struct HeaderScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The header in `line`, or nil if the line is outside the subset this scanner reads.
    static func header(_ line: ArraySlice<UInt8>) -> StateFileHeader? {
        line.withUnsafeBufferPointer { buffer in
            var scanner = HeaderScanner(buffer)
            guard let header = scanner.headerObject() else { return nil }
            scanner.skipWhitespace()
            return scanner.index == buffer.count ? header : nil
        }
    }

    // MARK: The header's members

    private mutating func headerObject() -> StateFileHeader? {
        var format: String?, store: String?, committedAt: String?, checksum: String?
        var revision: Int?, version: UInt64?, stateBytes: Int?
        var writer: WriterIdentity?, settings: StoreSettings?, combined: [String]?
        let complete = members { scanner, key in
            switch key {
            case "format": return Self.assignOnce(&format, scanner.string())
            case "revision": return Self.assignOnce(&revision, scanner.integer(Int.self))
            case "store": return Self.assignOnce(&store, scanner.string())
            case "version": return Self.assignOnce(&version, scanner.integer(UInt64.self))
            case "committedAt": return Self.assignOnce(&committedAt, scanner.string())
            case "writer": return Self.assignOnce(&writer, scanner.writerObject())
            case "settings": return Self.assignOnce(&settings, scanner.settingsObject())
            case "stateBytes": return Self.assignOnce(&stateBytes, scanner.integer(Int.self))
            case "checksum": return Self.assignOnce(&checksum, scanner.string())
            case "combined": return Self.assignOnce(&combined, scanner.strings())
            default: return false
            }
        }
        guard complete, let format, let revision, let store, let version, let committedAt, let writer,
            let settings, let stateBytes, let checksum
        else { return nil }
        return StateFileHeader(
            format: format, revision: revision, store: store, version: version, committedAt: committedAt,
            writer: writer, settings: settings, stateBytes: stateBytes, checksum: checksum, combined: combined)
    }

    private mutating func writerObject() -> WriterIdentity? {
        var pid: Int32?, host: String?, label: String?
        let complete = members { scanner, key in
            switch key {
            case "pid": return Self.assignOnce(&pid, scanner.integer(Int32.self))
            case "host": return Self.assignOnce(&host, scanner.string())
            case "label": return Self.assignOnce(&label, scanner.string())
            default: return false
            }
        }
        guard complete, let pid, let host, let label else { return nil }
        return WriterIdentity(pid: pid, host: host, label: label)
    }

    private mutating func settingsObject() -> StoreSettings? {
        var keepHistory: Int?, keepHistorySeconds: Int64?, maximumStateBytes: Int?, fileMode: String?, schema: String?
        var readerUsers: [UInt32]?
        let complete = members { scanner, key in
            switch key {
            case "keepHistory": return Self.assignOnce(&keepHistory, scanner.integer(Int.self))
            case "keepHistorySeconds": return Self.assignOnce(&keepHistorySeconds, scanner.integer(Int64.self))
            case "maxStateBytes": return Self.assignOnce(&maximumStateBytes, scanner.integer(Int.self))
            case "fileMode": return Self.assignOnce(&fileMode, scanner.string())
            case "schema": return Self.assignOnce(&schema, scanner.string())
            case "readerUsers": return Self.assignOnce(&readerUsers, scanner.integers(UInt32.self))
            default: return false
            }
        }
        // The same conversion as StoreSettings.init(from:).
        guard complete, let keepHistory, let maximumStateBytes, let fileMode, let mode = UInt32(fileMode, radix: 8)
        else { return nil }
        var settings = StoreSettings(keepHistory: keepHistory, maximumStateBytes: maximumStateBytes, fileMode: mode)
        settings.schema = schema
        settings.keepHistoryFor = keepHistorySeconds.map { .seconds($0) }
        settings.readerUsers = readerUsers
        return settings
    }

    /// Sets `slot` from `value`; false when the value is missing or the member came twice.
    private static func assignOnce<Value>(_ slot: inout Value?, _ value: Value?) -> Bool {
        guard slot == nil, let value else { return false }
        slot = value
        return true
    }

    // MARK: JSON tokens

    /// Reads `{ "key": value, … }`, calling `member` with the scanner on each value; true when the
    /// object was read whole and every member accepted.
    private mutating func members(_ member: (inout HeaderScanner, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), member(&self, key) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// A string without escapes or control characters, valid UTF-8.
    private mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            ascii = ascii && byte < 0x80
            index += 1
        }
        return nil
    }

    /// `["…", "…"]`: an array of ``string()``s (possibly empty).
    private mutating func strings() -> [String]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var values: [String] = []
        if consume(UInt8(ascii: "]")) { return values }
        repeat {
            skipWhitespace()
            guard let value = string() else { return nil }
            values.append(value)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? values : nil
    }

    /// `[n, n, …]`: an array of ``integer(_:)``s (possibly empty).
    private mutating func integers<Integer: FixedWidthInteger>(_: Integer.Type) -> [Integer]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var values: [Integer] = []
        if consume(UInt8(ascii: "]")) { return values }
        repeat {
            guard let value = integer(Integer.self) else { return nil }
            values.append(value)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? values : nil
    }

    /// Decimal digits with no sign, fraction, exponent or leading zero, within `Integer`'s range.
    private mutating func integer<Integer: FixedWidthInteger>(_: Integer.Type) -> Integer? {
        skipWhitespace()
        let start = index
        var value: Integer = 0
        while index < bytes.count, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Integer(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        let length = index - start
        guard length > 0, length == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        // A fraction or exponent would follow directly; leave those to JSONDecoder.
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            return nil
        }
        return value
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }
}
