/// Counters of one watcher.
public struct WatchStatistics: Sendable, Equatable {
    /// Versions delivered.
    public var delivered: Int = 0
    /// State files read and verified (skipped reloads of an unchanged file are not counted).
    public var reloads: Int = 0
    /// New versions found by the consistency check that no notification announced.
    public var missedEvents: Int = 0
    /// Files that failed verification, or could not be used (counted once each).
    public var problems: Int = 0
    /// Verified versions whose state does not decode as the watcher's type (counted in
    /// ``problems`` too): the watcher is stuck on an older version until a good one comes.
    public var unusableVersions: Int = 0
    /// Queue overflows and re-arms, each followed by a full reload.
    public var resynchronizations: Int = 0
    /// Versions delivered from a temp file read while its writer was still fsyncing it, before
    /// the rename (see the Watching article); counted in ``delivered`` too.
    public var readAhead: Int = 0
    /// Times the state file was looked at (opened and `fstat`ed, on a notification, a poll or a
    /// consistency check), whether it was then read or, unchanged, left unread.
    public var looks: Int = 0
    /// Temp files of a writer read ahead of their rename, whether their version was then
    /// delivered or not (a writer that died before its rename).
    public var tempFilesRead: Int = 0
}
