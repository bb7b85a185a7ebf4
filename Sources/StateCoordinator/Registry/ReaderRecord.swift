import Foundation

/// A reader's record as stored in `NAME.readers/ID.json`: one JSON object, replaced by rename
/// (never written in place) and never fsynced (it means nothing after a reboot). The protocol
/// article documents the members; times are seconds since the epoch, as Python's `time.time()`.
struct ReaderRecord: Codable, Sendable, Equatable {
    /// The record layout this code writes and reads.
    static let currentFormat = 1
    /// A record larger than this is not read (a record is a few hundred bytes).
    static let maximumBytes = 64 << 10
    /// A rejection's error is cut to this many characters.
    static let maximumErrorLength = 2000

    var format: Int = ReaderRecord.currentFormat
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
        if version > loadedVersion ?? 0 {
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

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain strings and numbers cannot fail.
        return Array((try? encoder.encode(self)) ?? Data("{}".utf8)) + [UInt8(ascii: "\n")]
    }

    /// Decodes a record; nil for anything that is not one (a partial Python write is impossible,
    /// records are renamed in, but a foreign or hand-edited file is not).
    static func decode(_ bytes: [UInt8]) -> ReaderRecord? {
        guard let record = try? JSONDecoder().decode(ReaderRecord.self, from: Data(bytes)), record.format >= 1 else { return nil }
        return record
    }

    func reader(id: String) -> RegisteredReader {
        func date(_ seconds: Double?) -> Date? { seconds.map { Date(timeIntervalSince1970: $0) } }
        func mark(_ version: UInt64?, _ at: Double?) -> RegisteredReader.Mark? {
            version.map { RegisteredReader.Mark(version: $0, at: date(at) ?? Date(timeIntervalSince1970: updatedAt)) }
        }
        return RegisteredReader(
            id: id, label: label, processID: pid, hostName: host, registeredAt: Date(timeIntervalSince1970: registeredAt),
            storeID: storeID, loaded: mark(loadedVersion, loadedAt), applied: mark(appliedVersion, appliedAt),
            rejected: rejectedVersion.map {
                RegisteredReader.Rejection(
                    version: $0, at: date(rejectedAt) ?? Date(timeIntervalSince1970: updatedAt), error: rejectedError ?? "")
            },
            updatedAt: Date(timeIntervalSince1970: updatedAt))
    }
}
