/// How a watcher learns of new versions.
public enum WatchMode: Sendable, Equatable, CustomStringConvertible {
    /// inotify on the store directory: notified within microseconds of the writer's rename.
    case inotify
    /// Re-checking the state file every poll interval, and why inotify is not used.
    case polling(reason: String)
    /// The reader or watch was closed: it learns of nothing any more.
    case closed
    /// A watch stream on a member of an etcd cluster (a store on etcd): told of each version as
    /// the cluster applies it. `endpoint` is the member watched.
    case etcd(endpoint: String)

    /// `inotify`, `polling (reason)`, `closed`, or `etcd watch (endpoint)`.
    public var description: String {
        switch self {
        case .inotify: "inotify"
        case .polling(let reason): "polling (\(reason))"
        case .closed: "closed"
        case .etcd(let endpoint): "etcd watch (\(endpoint))"
        }
    }
}
