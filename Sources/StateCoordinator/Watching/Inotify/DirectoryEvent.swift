/// What a directory watch reports to its subscribers.
enum DirectoryEvent: Sendable, Equatable {
    /// Something happened to `name` inside the directory (`mask` has the `IN_*` bits).
    case changed(name: String, mask: UInt32)
    /// Events may have been lost (a kernel queue overflow, or the loop re-created its inotify
    /// instance): reload everything.
    case overflow
    /// The directory was deleted or moved away: its watch is gone.
    case watchRemoved
    /// inotify stopped working for this directory (the instance could not be re-created, or the
    /// directory could not be watched again): poll, and subscribe again later.
    case watchLost(WatchUnavailable)
}
