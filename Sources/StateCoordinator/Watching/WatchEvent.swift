/// What a watcher reports: each new version, and every problem on the way.
public enum WatchEvent<State: Sendable>: Sendable {
    /// A new, verified version.
    case snapshot(StateSnapshot<State>)
    /// Versions that were committed but cannot be delivered: coalesced away and no longer in
    /// history (only reported to watchers that asked for every version).
    case gap(missing: ClosedRange<UInt64>)
    /// The store was re-created (new identity): version numbers restart from the new store's.
    case storeReset(previousID: String, newID: String)
    /// A state file that failed verification (for example written in place by an editor); the
    /// last good snapshot stays current until a good version arrives.
    case problem(StateStoreError)
    /// The store directory (or the state file) disappeared; the watcher re-arms when it comes back.
    case storeGone(path: String)
    /// The watcher changed how it learns of new versions: it fell back to polling (the reason
    /// says why: inotify failed, or the directory is on a file system without notifications), or
    /// went back to inotify.
    case modeChanged(WatchMode)
}
