import Foundation

/// A kept past version: when and by whom it was committed.
public struct HistoryEntry: Sendable, Equatable {
    /// The version.
    public var version: UInt64
    /// When it was committed.
    public var committedAt: Date
    /// Who committed it.
    public var writer: WriterIdentity
}
