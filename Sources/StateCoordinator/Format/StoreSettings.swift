/// The policy of a store, chosen when it is created and kept in every version's header, so that
/// every process that opens the store applies the same policy.
public struct StoreSettings: Codable, Sendable, Equatable {
    /// The schema a new store is created with (its file is written with the store); not part of
    /// the header, which names it by ``schema``.
    var schemaDocument: JSONSchema?

    /// Equal when every setting kept in the header is.
    public static func == (lhs: StoreSettings, rhs: StoreSettings) -> Bool {
        lhs.keepHistory == rhs.keepHistory && lhs.keepHistoryFor == rhs.keepHistoryFor && lhs.maximumStateBytes == rhs.maximumStateBytes
            && lhs.fileMode == rhs.fileMode && lhs.schema == rhs.schema && lhs.readerUsers == rhs.readerUsers
    }

    /// The default maximum size of the state: 64 MiB.
    public static let defaultMaximumStateBytes = 64 << 20
    /// The largest state size limit a store may have: 1 GiB (every reader holds the state in
    /// memory; a limit near `Int.max` would also overflow the readers' arithmetic).
    public static let largestMaximumStateBytes = 1 << 30
    /// The most past versions a store may keep: 1,000,000.
    public static let largestKeepHistory = 1_000_000
    /// The default mode of a new store's files: owner read-write, group read (monitoring sidecars
    /// often run as another user of the same group).
    public static let defaultFileMode: UInt32 = 0o640

    /// How many past versions to keep in `NAME.history/` (not counting the current one); 0 is off.
    public var keepHistory: Int
    /// How long to keep past versions, counted from their commit (whole seconds); nil keeps by
    /// count alone. A version stays while either rule keeps it: the newest ``keepHistory``, and
    /// every one committed within this time, up to ``largestKeepHistory`` entries in all. A store
    /// with it is written as header revision 3, which writers that predate it refuse rather than
    /// drop it. The protocol article says how history size is bounded.
    public var keepHistoryFor: Duration?
    /// The longest ``keepHistoryFor``: ten years.
    public static let longestKeepHistoryFor: Duration = .seconds(10 * 365 * 86400)

    /// The mode of the lockfile, which only writers open: `flock(2)` needs only read access, so
    /// a reader able to open it could hold the lock and block every commit. It is the owner's
    /// read and write, plus the group's when the group may write the state (``fileMode`` has
    /// group write: a writers' group; a store created in a group-writable directory counts its
    /// group as writers too); never others', and never a group that only reads (a sidecars'
    /// group).
    public var lockFileMode: UInt32 { 0o600 | (fileMode & 0o020 != 0 ? 0o060 : 0) }

    /// Whether past versions are kept at all (by count, by age, or both).
    public var keepsHistory: Bool { keepHistory > 0 || keepHistoryFor != nil }
    /// The largest state, in bytes of its JSON encoding, that the store accepts on write and read.
    public var maximumStateBytes: Int
    /// The permission bits of a new store's state file and lockfile; a new store's must include
    /// `0o600` (its owner reads and writes it). Later versions keep the mode of the file they
    /// replace, so an operator's `chmod` sticks.
    public var fileMode: UInt32
    /// The checksum (`sha256:` and hex) of the store's JSON Schema, kept in the file
    /// `NAME.schema-HEX.json` beside the state; nil when the store has none. Every writer
    /// validates each new state against it before the rename. Set it with
    /// ``StateStore/setSchema(_:expecting:)-40t42`` (or `statectl schema set`), not by hand.
    public var schema: String?

    /// The users whose registered readers count (uids, ascending, no duplicates); nil counts
    /// every user's. The reader registry is shared by every user of the host and any user can
    /// register any label: naming the bots' users here makes a reader of anyone else listed as
    /// "not counted" and never waited for (``ReaderListing/notCounted``,
    /// ``AcknowledgementReport/ignored``). A store with it is written as header revision 4.
    /// Set it with ``StateStore/setReaderUsers(_:expecting:)-3omcn`` (or
    /// `statectl readers --set-users`).
    public var readerUsers: [UInt32]?
    /// The most users ``readerUsers`` may name.
    public static let largestReaderUsers = 64

    /// Creates settings.
    /// - Parameters:
    ///   - keepHistory: past versions to keep; 0 turns history off (unless `keepHistoryFor` keeps some).
    ///   - keepHistoryFor: also keep every version committed within this time (whole seconds).
    ///   - maximumStateBytes: the state size limit in bytes (default 64 MiB).
    ///   - fileMode: permission bits for the new store's files (default `0o640`; must include `0o600`).
    ///   - schema: a JSON Schema for a new store (create, openOrCreate, import): its file is written
    ///     with the store, and the first state must match it.
    ///   - readerUsers: the users whose registered readers count (uids, ascending); nil for every user.
    public init(
        keepHistory: Int = 0, keepHistoryFor: Duration? = nil, maximumStateBytes: Int = StoreSettings.defaultMaximumStateBytes,
        fileMode: UInt32 = StoreSettings.defaultFileMode, schema: JSONSchema? = nil, readerUsers: [UInt32]? = nil
    ) {
        self.readerUsers = readerUsers
        self.keepHistory = keepHistory
        self.keepHistoryFor = keepHistoryFor.map { .seconds(($0 + .nanoseconds(999_999_999)).components.seconds) }
        self.maximumStateBytes = maximumStateBytes
        self.fileMode = fileMode
        self.schema = schema?.checksum
        schemaDocument = schema
    }

    /// Whether every setting is in range (a foreign or damaged header may say anything).
    var isValid: Bool { (try? validate()) != nil }

    /// The checks for a new store: ``validate()``, and a file mode that lets the store's owner
    /// read and write its files (a state file its own writer cannot read back was created, then
    /// refused by everyone but root). Only at creation: a header read back is judged by
    /// ``validate()`` alone.
    func validateForCreation() throws(StateStoreError) {
        try validate()
        guard fileMode & 0o600 == 0o600 else {
            throw StateStoreError(
                .invalidArgument,
                "fileMode must let the store's owner read and write its files (include 0o600), not 0o\(String(fileMode, radix: 8)).",
                hint: "Use a mode such as 0640 or 0660; nothing was created.")
        }
    }

    /// Throws ``StateStoreError/Code/invalidArgument`` for a setting out of range.
    func validate() throws(StateStoreError) {
        guard keepHistory >= 0, keepHistory <= Self.largestKeepHistory else {
            throw StateStoreError(
                .invalidArgument, "keepHistory must be from 0 to \(Self.largestKeepHistory), not \(keepHistory).")
        }
        if let keepHistoryFor, !(keepHistoryFor >= .seconds(1) && keepHistoryFor <= Self.longestKeepHistoryFor) {
            throw StateStoreError(
                .invalidArgument, "keepHistoryFor must be from 1 second to 10 years, not \(keepHistoryFor).")
        }
        guard maximumStateBytes > 0, maximumStateBytes <= Self.largestMaximumStateBytes else {
            throw StateStoreError(
                .invalidArgument,
                "maximumStateBytes must be from 1 to \(Self.largestMaximumStateBytes) (1 GiB), not \(maximumStateBytes).")
        }
        if let readerUsers, readerUsers.isEmpty || readerUsers.count > Self.largestReaderUsers || readerUsers != Array(Set(readerUsers)).sorted() {
            throw StateStoreError(
                .invalidArgument,
                "readerUsers must name 1 to \(Self.largestReaderUsers) distinct uids in ascending order, not \(readerUsers).")
        }
        if let schema, !SchemaFile.isChecksum(schema) {
            throw StateStoreError(.invalidArgument, "schema must be \"sha256:\" and 64 lowercase hex digits, not \(schema).")
        }
        guard fileMode & ~0o777 == 0 else {
            throw StateStoreError(
                .invalidArgument, "fileMode must be permission bits (0o000 to 0o777), not 0o\(String(fileMode, radix: 8)).")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case keepHistory, keepHistoryFor = "keepHistorySeconds", maximumStateBytes = "maxStateBytes", fileMode, schema, readerUsers
    }

    // The mode is kept as an octal string ("0640"), as operators read and write it.
    /// Decodes settings from a header.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        keepHistory = try container.decode(Int.self, forKey: .keepHistory)
        keepHistoryFor = try container.decodeIfPresent(Int64.self, forKey: .keepHistoryFor).map { .seconds($0) }
        maximumStateBytes = try container.decode(Int.self, forKey: .maximumStateBytes)
        let mode = try container.decode(String.self, forKey: .fileMode)
        guard let bits = UInt32(mode, radix: 8) else {
            throw DecodingError.dataCorruptedError(
                forKey: .fileMode, in: container, debugDescription: "fileMode \(mode) is not octal")
        }
        fileMode = bits
        schema = try container.decodeIfPresent(String.self, forKey: .schema)
        readerUsers = try container.decodeIfPresent([UInt32].self, forKey: .readerUsers)
    }

    /// Encodes settings into a header.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keepHistory, forKey: .keepHistory)
        try container.encodeIfPresent(keepHistoryFor?.components.seconds, forKey: .keepHistoryFor)
        try container.encode(maximumStateBytes, forKey: .maximumStateBytes)
        let octal = String(fileMode, radix: 8)
        try container.encode(String(repeating: "0", count: max(0, 4 - octal.count)) + octal, forKey: .fileMode)
        // Absent rather than null: a store without a schema writes the headers it always wrote.
        try container.encodeIfPresent(schema, forKey: .schema)
        try container.encodeIfPresent(readerUsers, forKey: .readerUsers)
    }
}
