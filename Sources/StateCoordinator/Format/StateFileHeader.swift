import Foundation

/// The first line of a state file: everything needed to verify and describe the state bytes
/// that follow it. The layout is specified in the "On-disk protocol" DocC article; keep it stable.
struct StateFileHeader: Codable, Sendable, Equatable {
    /// The value of ``format`` in every state file of this project.
    static let formatIdentifier = "statecoordinator"
    /// The highest layout revision this code reads. It writes revision 1, 2 for a store with a
    /// schema, 3 for one that keeps history by age, or 4 for one that names its reader users
    /// (``revision(for:)``).
    static let currentRevision = 4

    /// The revision a version with these settings is written with: the lowest that knows every
    /// setting in use, so that a writer that does not know one (a schema: revision 2; history
    /// by age: 3; reader users: 4) refuses the store instead of committing past it and dropping
    /// the setting.
    static func revision(for settings: StoreSettings) -> Int {
        if settings.readerUsers != nil { return 4 }
        if settings.keepHistoryFor != nil { return 3 }
        return settings.schema == nil ? 1 : 2
    }
    /// A header line longer than this is treated as corruption rather than read on.
    static let maximumLength = 64 << 10

    /// Always ``formatIdentifier``.
    var format: String
    /// The layout revision.
    var revision: Int
    /// The store's identity (a UUID), new each time a store is created.
    var store: String
    /// Rises by exactly 1 per commit.
    var version: UInt64
    /// RFC 3339 UTC timestamp with milliseconds.
    var committedAt: String
    /// Who committed this version.
    var writer: WriterIdentity
    /// The store's policy, carried forward by every commit.
    var settings: StoreSettings
    /// The exact number of state bytes after the header line.
    var stateBytes: Int
    /// `sha256:` and the lowercase hex SHA-256 of the state bytes.
    var checksum: String
    /// The IDs of the published mutations (see ``MutationQueue``) this version's writer committed
    /// with it; absent when none. A writer that does not combine may carry the previous list
    /// forward (the Python package copies unknown members): an ID listed is always in the state.
    var combined: [String]? = nil
}

extension StateFileHeader {
    /// Decodes a header line (without its line feed); nil if it is not a header of any revision.
    /// The usual line goes through ``HeaderScanner``; anything it does not read, `JSONDecoder`.
    /// A header whose numbers are out of range (a size limit near `Int.max`, a negative size) is
    /// no header: the file is then reported as damaged, and nothing computes with those numbers.
    /// The fallback is strict JSON first: `JSONDecoder` alone would take a header with a
    /// trailing comma or one of two duplicate members (say two "version"s).
    static func decode(_ line: ArraySlice<UInt8>) -> StateFileHeader? {
        guard let header = HeaderScanner.header(line) ?? strictlyDecoded(line), header.isPlausible else { return nil }
        return header
    }

    static func strictlyDecoded(_ line: ArraySlice<UInt8>) -> StateFileHeader? {
        guard (try? JSONParser.check(line)) != nil else { return nil }
        return try? JSONDecoder().decode(StateFileHeader.self, from: Data(line))
    }

    /// Whether the numbers are in range: settings as ``StoreSettings/validate()`` requires, a
    /// state size from 0 to the store's limit.
    var isPlausible: Bool {
        settings.isValid && stateBytes >= 0 && stateBytes <= settings.maximumStateBytes && revision >= 0
    }
}
