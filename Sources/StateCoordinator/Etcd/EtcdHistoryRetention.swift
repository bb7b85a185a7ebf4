/// History on etcd: etcd keeps old revisions only until it compacts, so a store that keeps
/// history writes each outgoing version as a key of its own (``EtcdStoreKeys/history(_:)``) in
/// the transaction that replaces it, and deletes, in the same transaction, the ones past
/// ``StoreSettings/keepHistory``.
enum EtcdHistoryRetention {
    /// The operations that keep `outgoing` and drop what the settings no longer keep.
    static func operations(keeping outgoing: EtcdVersion, keys: EtcdStoreKeys, settings: StoreSettings) -> [Etcdserverpb_RequestOp] {
        guard outgoing.header.settings.keepsHistory else { return [] }
        guard settings.keepHistory > 0 else {
            // History turned off: the kept versions go with the version that turns it off.
            return [EtcdTransactions.deleteRange(from: keys.historyPrefix, to: EtcdStoreKeys.rangeEnd(keys.historyPrefix))]
        }
        var operations = [EtcdTransactions.put(keys.history(outgoing.header.version), outgoing.file)]
        let kept = UInt64(settings.keepHistory)
        if outgoing.header.version >= kept {
            // Keep versions outgoing-kept+1 … outgoing: delete every key below the first of them.
            operations.append(
                EtcdTransactions.deleteRange(from: keys.history(0), to: keys.history(outgoing.header.version - kept + 1)))
        }
        return operations
    }
}
