import Synchronization

/// The version a store object's last commit on etcd wrote (its bytes and the revision it got),
/// taken by the next batch as its base instead of reading the key (``EtcdBatchCommit``): one
/// round trip per commit instead of two while this process is the only writer, and no more than
/// before when it is not (the failure branch of a stale transaction returns the newest version,
/// as a read would have).
final class EtcdLastWrite: Sendable {
    private let value = Mutex<EtcdValue?>(nil)

    /// The remembered version, forgotten as it is handed out: a batch that fails leaves nothing.
    func take() -> EtcdValue? { value.withLock { $0.take() } }

    func remember(_ written: EtcdValue) { value.withLock { $0 = written } }
}
