/// How a registered reader reaches the store, and so what its liveness rests on.
public enum ReaderConnection: String, Sendable, Equatable, Codable {
    /// It reads a store in a directory on its own host; liveness is the flock on its registry
    /// entry.
    case local
    /// It reads a store on etcd itself; liveness is its etcd lease.
    case direct
    /// It reads its host's mirror of a store on etcd (``StateMirror``), which publishes the
    /// host's local registry to etcd; liveness is the local flock as the mirror sees it, and the
    /// mirror's own lease: while the mirror is cut off, its readers' state is unknown.
    case mirror
}
