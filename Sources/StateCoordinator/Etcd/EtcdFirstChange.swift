import Synchronization

/// The first change of a store's key after a revision, read from etcd's history of the key (a
/// watch from that revision, closed at its first event): how a writer whose transaction's answer
/// was lost finds out whether it was applied.
struct EtcdFirstChange {
    let access: EtcdStoreAccess

    /// The value the key was first given after `revision` (empty bytes for a deletion), nil
    /// when it has not changed since.
    ///
    /// - Throws: when the cluster cannot be reached, or the revision was compacted away.
    func after(revision: Int64) throws(StateStoreError) -> EtcdValue? {
        if let current = try access.readState(), current.modRevision == revision { return nil }
        // Changed, or deleted: the first event after the revision says how.
        let keys = access.keys
        let found = Mutex<EtcdValue?>(nil)
        let compacted = Mutex<Int64?>(nil)
        let cancelled = Mutex<String?>(nil)
        let idle = access.client.configuration.requestTimeout
        do {
            try access.client.callBlocking(streaming: true) { call in
                try await EtcdWatchSession.run(
                    call, key: keys.state, startRevision: revision + 1, idleTimeout: idle
                ) { response in
                    if response.canceled {
                        if response.compactRevision > 0 {
                            compacted.withLock { $0 = response.compactRevision }
                        } else {
                            cancelled.withLock { $0 = response.cancelReason.isEmpty ? "the watch was cancelled" : response.cancelReason }
                        }
                        return .finish
                    }
                    guard let event = response.events.first else { return .more }
                    found.withLock { $0 = EtcdValue(event.kv) }
                    return .finish
                }
            }
        } catch {
            throw access.translate(error, doing: "find out the outcome of a commit to", committed: nil)
        }
        if let reason = cancelled.withLock({ $0 }) {
            throw access.translate(.unavailable(tried: [(endpoint: "watch", reason: reason)]), doing: "find out the outcome of a commit to", committed: nil)
        }
        if let revision = compacted.withLock({ $0 }) {
            throw access.translate(
                .refused(RPCErrorCompacted.make(revision), endpoint: "watch"), doing: "find out the outcome of a commit to", committed: nil)
        }
        return found.withLock { $0 }
    }
}
