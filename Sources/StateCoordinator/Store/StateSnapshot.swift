import Foundation

/// One committed version of a store's state, with what the state file says about it.
public struct StateSnapshot<State: Sendable>: Sendable {
    /// The state.
    public var state: State
    /// The version: 0 for a new store, then +1 per commit.
    public var version: UInt64
    /// When it was committed (writer's clock, millisecond precision).
    public var committedAt: Date
    /// Who committed it.
    public var writer: WriterIdentity
    /// The identity of the store (a UUID string); it changes only when a store is re-created.
    public var storeID: String
    /// `sha256:` + hex digest of the state bytes.
    public var checksum: String
    /// The size of the state file in bytes (header and state).
    public var fileSize: Int
    /// The store's settings, as recorded in this version.
    public var settings: StoreSettings
    /// When this process got this version: read, verified and decoded it, committed it, or —
    /// for a version a watcher read ahead of its rename — when the rename was seen. For a
    /// watcher, `loadedAt` minus ``committedAt`` is how long the version took to reach it (both
    /// on this host's clock; ``committedAt`` has millisecond precision).
    public var loadedAt: Date
    /// When this version's file was renamed into place, for a version read from the state file:
    /// its inode change time (`st_ctim`), which the rename sets. nil for a version read from
    /// history or committed by this process, and for a state file with a second link (the next
    /// commit links it into history just before its own rename, which stamps the change time
    /// again).
    ///
    /// The kernel stamps the rename from its coarse clock, so `replacedAt` may be up to one timer
    /// tick early (1/`CONFIG_HZ`: 4 ms at 250 Hz; often much less: of 2,000 renames timed on
    /// Linux 6.18, half were stamped at most 0.22 ms early, the worst 2.3 ms). ``loadedAt`` minus `replacedAt` is how
    /// long the version took to reach this process after it became current, overstated by at
    /// most that tick (both on this host's clock). Unlike ``committedAt``, it does not include
    /// the writer's encoding, write and fsync. Rarely it is late instead: when the next commit
    /// replaced the file between this process's open and its `fstat`, the stamp is that
    /// replacement's.
    public var replacedAt: Date?

    /// A snapshot with the given fields, for instance a fake one in your own tests.
    public init(
        state: State, version: UInt64, committedAt: Date, writer: WriterIdentity, storeID: String, checksum: String,
        fileSize: Int, settings: StoreSettings = StoreSettings(), loadedAt: Date = Date(), replacedAt: Date? = nil
    ) {
        self.state = state
        self.version = version
        self.committedAt = committedAt
        self.writer = writer
        self.storeID = storeID
        self.checksum = checksum
        self.fileSize = fileSize
        self.settings = settings
        self.loadedAt = loadedAt
        self.replacedAt = replacedAt
    }
}

extension StateSnapshot {
    /// The snapshot of the version a header describes (read from a file, or just committed).
    init(header: StateFileHeader, state: State, fileSize: Int) {
        self.init(
            state: state, version: header.version,
            committedAt: CommitTimestamp.parse(header.committedAt) ?? Date(timeIntervalSince1970: 0),
            writer: header.writer, storeID: header.store, checksum: header.checksum, fileSize: fileSize,
            settings: header.settings, loadedAt: Date())
    }
}
