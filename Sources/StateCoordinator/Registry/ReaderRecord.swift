import Foundation

/// A reader's record as stored in `NAME.readers/ID.json`: one JSON object, replaced by rename
/// (never written in place) and never fsynced (it means nothing after a reboot). The protocol
/// article documents the members; times are seconds since the epoch, as Python's `time.time()`.
struct ReaderRecord: Sendable, Equatable {
    /// The record layout this code writes and reads.
    static let currentFormat = 1
    /// A record larger than this is not read (a record is a few hundred bytes).
    static let maximumBytes = 64 << 10
    /// A rejection's error is cut to this many characters.
    static let maximumErrorLength = 2000

    var format: Int = ReaderRecord.currentFormat
    /// The entry this record belongs to (`PID-RANDOM`, the name of its lock file). A lister
    /// refuses a record that names another entry: in a registry every user may write, a hard link
    /// to someone else's record under a name of one's own must not pass for a second reader of
    /// theirs. Nil in records written before it existed.
    var id: String?
    var label: String
    var pid: Int32
    var host: String
    var registeredAt: Double
    var storeID: String?
    var loadedVersion: UInt64?
    var loadedAt: Double?
    var appliedVersion: UInt64?
    var appliedAt: Double?
    var rejectedVersion: UInt64?
    var rejectedAt: Double?
    var rejectedError: String?
    var updatedAt: Double
    /// On etcd only: how the reader reaches the store (absent from a local registry's records).
    var connection: ReaderConnection?

    init(label: String, pid: Int32, host: String, registeredAt: Date) {
        self.label = label
        self.pid = pid
        self.host = host
        self.registeredAt = registeredAt.timeIntervalSince1970
        updatedAt = self.registeredAt
    }

    /// Notes a version of `storeID`; a new store identity forgets the marks of the old one.
    private mutating func adopt(_ storeID: String) {
        guard self.storeID != storeID else { return }
        self.storeID = storeID
        loadedVersion = nil
        loadedAt = nil
        appliedVersion = nil
        appliedAt = nil
        rejectedVersion = nil
        rejectedAt = nil
        rejectedError = nil
    }

    /// Records a loaded version; false when it changes nothing (an older or equal version).
    mutating func load(_ version: UInt64, storeID: String, at date: Date) -> Bool {
        adopt(storeID)
        if let loadedVersion, version <= loadedVersion { return false }
        loadedVersion = version
        loadedAt = date.timeIntervalSince1970
        return true
    }

    /// Records an applied version; false when it changes nothing.
    mutating func apply(_ version: UInt64, storeID: String, at date: Date) -> Bool {
        adopt(storeID)
        if let appliedVersion, version <= appliedVersion { return false }
        appliedVersion = version
        appliedAt = date.timeIntervalSince1970
        if loadedVersion.map({ version > $0 }) ?? true {
            loadedVersion = version
            loadedAt = appliedAt
        }
        return true
    }

    /// Records a rejected version and its error.
    mutating func reject(_ version: UInt64, storeID: String, error: String, at date: Date) {
        adopt(storeID)
        rejectedVersion = version
        rejectedAt = date.timeIntervalSince1970
        rejectedError = String(error.prefix(Self.maximumErrorLength))
    }

    /// The record as one line of JSON, names sorted. Written with the package's own JSON writer
    /// (Foundation's `JSONEncoder` cost more than the rest of an acknowledgement).
    func encoded() -> [UInt8] {
        func number(_ value: UInt64?) -> JSONValue { value.map(JSONValue.unsigned) ?? .null }
        func time(_ value: Double?) -> JSONValue { value.map(JSONValue.double) ?? .null }
        var members: [JSONKey: JSONValue] = [
            "format": .int(Int64(format)), "id": id.map(JSONValue.string) ?? .null, "label": .string(label), "pid": .int(Int64(pid)), "host": .string(host),
            "registeredAt": .double(registeredAt), "storeID": storeID.map(JSONValue.string) ?? .null,
            "loadedVersion": number(loadedVersion), "loadedAt": time(loadedAt),
            "appliedVersion": number(appliedVersion), "appliedAt": time(appliedAt),
            "rejectedVersion": number(rejectedVersion), "rejectedAt": time(rejectedAt),
            "rejectedError": rejectedError.map(JSONValue.string) ?? .null, "updatedAt": .double(updatedAt),
        ]
        if let connection { members["connection"] = .string(connection.rawValue) }
        let object = JSONValue.object(members)
        // Strings, finite times and integers always encode.
        return ((try? JSONWriter.write(object, pretty: false)) ?? Array("{}".utf8)) + [UInt8(ascii: "\n")]
    }

    /// The `format` member of what looks like a record, whatever its layout.
    static func format(of bytes: [UInt8]) -> Int64? {
        guard case .object(let object)? = try? JSONValue(parsing: bytes), case .int(let format)? = object["format"] else { return nil }
        return format
    }

    /// Decodes a record; nil for anything that is not one (a foreign or hand-edited file: records
    /// are renamed in, so a partial write is never seen). Unknown members are ignored, absent
    /// optional ones are nil.
    static func decode(_ bytes: [UInt8]) -> ReaderRecord? {
        guard case .object(let object)? = try? JSONValue(parsing: bytes) else { return nil }
        func number(_ key: JSONKey) -> Double? {
            switch object[key] {
            case .int(let value)?: Double(value)
            case .double(let value)?: value
            default: nil
            }
        }
        func version(_ key: JSONKey) -> UInt64?? {
            switch object[key] {
            case nil, .null?: .some(nil)
            case .int(let value)? where value >= 0: .some(UInt64(value))
            case .largeInteger(let digits)?: UInt64(digits).map { .some($0) } ?? nil  // above Int64.max
            default: nil  // present but not a version: not a record
            }
        }
        func text(_ key: JSONKey) -> String? {
            if case .string(let value)? = object[key] { return value }
            return nil
        }
        guard case .int(let format)? = object["format"], format == currentFormat, let label = text("label"),
            case .int(let pid)? = object["pid"], let pid = Int32(exactly: pid), let host = text("host"),
            let registeredAt = number("registeredAt"), let updatedAt = number("updatedAt"),
            let loaded = version("loadedVersion"), let applied = version("appliedVersion"), let rejected = version("rejectedVersion")
        else { return nil }
        var record = ReaderRecord(label: label, pid: pid, host: host, registeredAt: Date(timeIntervalSince1970: registeredAt))
        record.format = Int(format)
        record.id = text("id")
        record.updatedAt = updatedAt
        record.storeID = text("storeID")
        record.loadedVersion = loaded
        record.loadedAt = number("loadedAt")
        record.appliedVersion = applied
        record.appliedAt = number("appliedAt")
        record.rejectedVersion = rejected
        record.rejectedAt = number("rejectedAt")
        record.rejectedError = text("rejectedError")
        record.connection = text("connection").flatMap(ReaderConnection.init(rawValue:))
        return record
    }

    func reader(id: String) -> RegisteredReader {
        func date(_ seconds: Double?) -> Date? { seconds.map { Date(timeIntervalSince1970: $0) } }
        func mark(_ version: UInt64?, _ at: Double?) -> RegisteredReader.Mark? {
            version.map { RegisteredReader.Mark(version: $0, at: date(at) ?? Date(timeIntervalSince1970: updatedAt)) }
        }
        var reader = RegisteredReader(
            id: id, label: label, processID: pid, hostName: host, registeredAt: Date(timeIntervalSince1970: registeredAt),
            storeID: storeID, loaded: mark(loadedVersion, loadedAt), applied: mark(appliedVersion, appliedAt),
            rejected: rejectedVersion.map {
                RegisteredReader.Rejection(
                    version: $0, at: date(rejectedAt) ?? Date(timeIntervalSince1970: updatedAt), error: rejectedError ?? "")
            },
            updatedAt: Date(timeIntervalSince1970: updatedAt))
        reader.connection = connection ?? .local
        return reader
    }
}
