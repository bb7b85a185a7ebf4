/// Where a store is: a directory on this host (its files, ``StoreHandle``) or keys on an etcd
/// cluster (``EtcdStoreAccess``).
enum StorePlace: Sendable {
    case files(StoreHandle)
    case etcd(EtcdStoreAccess)

    /// The error for an operation that only a store in a directory has.
    static func notOnEtcd(_ operation: String, _ access: EtcdStoreAccess) -> StateStoreError {
        StateStoreError(
            .invalidArgument, "\(operation.prefix(1).uppercased() + operation.dropFirst()) is not available for a store on etcd (\(access.keys.stateKey)).",
            hint: "It belongs to stores in a directory (their lock, reader registry and leftover files); nothing was changed.",
            path: access.keys.stateKey)
    }
}
