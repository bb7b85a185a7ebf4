import Foundation

/// A kept past version: when and by whom it was committed.
public struct HistoryEntry: Sendable, Equatable {
    /// The version.
    public var version: UInt64
    /// When it was committed.
    public var committedAt: Date
    /// Who committed it.
    public var writer: WriterIdentity

    /// An entry with the given fields, for instance a fake one in your own tests.
    public init(version: UInt64, committedAt: Date, writer: WriterIdentity) {
        self.version = version
        self.committedAt = committedAt
        self.writer = writer
    }
}

extension HistoryEntry {
    /// The entry a kept version's header describes.
    init(header: StateFileHeader) {
        self.init(
            version: header.version, committedAt: CommitTimestamp.parse(header.committedAt) ?? Date(timeIntervalSince1970: 0),
            writer: header.writer)
    }
}
