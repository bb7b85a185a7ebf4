/// How ``StateStore/recover(directory:name:_:dryRun:options:)-3ighv`` repairs a store whose state file
/// was replaced by a foreign plain-JSON write or damaged.
public enum RecoveryAction: String, Sendable, Equatable {
    /// The plain JSON content becomes the next version, checked against the schema; identity,
    /// settings and schema are carried forward from the last kept version.
    case adopt
    /// The last kept version comes back as the next version.
    case restore
}

/// What a recovery did (or, in a dry run, would do).
public struct RecoveryOutcome: Sendable, Equatable, CustomStringConvertible {
    /// The action taken.
    public var action: RecoveryAction
    /// The version that was overwritten or damaged, when it can be told.
    public var replacedVersion: UInt64?
    /// For ``RecoveryAction/restore``: the kept version brought back.
    public var restoredVersion: UInt64?
    /// The new current version.
    public var version: UInt64
    /// The store's identity after the recovery.
    public var storeID: String
    /// Whether the identity is the store's own (false: nothing survived that names it, so the
    /// store has a new one, and its readers start over).
    public var identityKept: Bool
    /// The settings of the new version (carried forward from what survived, else the defaults).
    public var settings: StoreSettings
    /// Where ``settings`` came from ("kept version 41", "the damaged file's header", or what was
    /// lost with the file).
    public var settingsSource: String
    /// Where the replaced file was kept (swapped out whole, so nothing of it is lost); nil in a dry run.
    public var keptAs: String?
    /// Whether the file kept is not the one the recovery read: a foreign writer replaced the state
    /// file again meanwhile. Its newest file is what ``keptAs`` holds; stop it and compare.
    public var replacedAgain: Bool
    /// Whether the new version was committed (false in a dry run).
    public var committed: Bool

    /// One line for an operator.
    public var description: String {
        let what =
            switch action {
            case .adopt: "the plain JSON content"
            case .restore: "kept version \(restoredVersion.map(String.init) ?? "?")"
            }
        let replaced = replacedVersion.map { " over version \($0)" } ?? ""
        let identity = identityKept ? "store \(storeID)" : "a new identity \(storeID) (nothing survived that names the old one)"
        let verb = committed ? "made" : "would make"
        let kept = keptAs.map { "; the replaced file is kept as \($0)" } ?? ""
        let again =
            replacedAgain
            ? " (a foreign writer replaced the file again during the recovery: what is kept is its newest write; stop it and compare)" : ""
        return "\(verb) \(what) version \(version) of \(identity)\(replaced), settings from \(settingsSource)\(kept)\(again)"
    }
}
