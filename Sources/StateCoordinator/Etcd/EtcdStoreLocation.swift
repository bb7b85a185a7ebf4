/// The errors that name where a store on etcd should be.
enum EtcdStoreLocation {
    /// The error for a store that does not exist on the cluster.
    static func noStore(_ access: EtcdStoreAccess) -> StateStoreError {
        StateStoreError(
            .notFound, "No store named \"\(access.keys.name)\" on etcd: \(access.keys.stateKey) does not exist (\(access.client.endpointList)).",
            hint: "Create it first (StateStore.create(etcd:…) or openOrCreate, or statectl --etcd URL init); check the name and the key prefix.",
            path: access.keys.stateKey)
    }
}
