import Foundation

extension StateStore {
    /// On etcd: removes what the registry keeps of readers that are gone for good (<doc:FleetAcrossHosts>):
    /// reader `id`'s roster entry, or every roster entry of host `hostName` and the host's notes.
    /// A reader that is live keeps its entry (its record is under a live lease): only readers
    /// whose state is unknown or dead are forgotten. Returns how many entries were removed.
    ///
    /// - Throws: `invalidArgument` for a store in a directory (whose registry forgets a dead
    ///   reader by itself), `notFound` when nothing matches, the cluster's errors.
    public func forgetReaders(id: String? = nil, hostName: String? = nil) async throws(StateStoreError) -> Int {
        guard case .etcd(let access) = place else {
            throw StateStoreError(
                .invalidArgument, "Only a store on etcd keeps a roster of readers; a local registry forgets a dead reader by itself.",
                hint: "Nothing was changed.", path: stateFilePath)
        }
        let io = io
        return try await io.run { () throws(StateStoreError) -> Int in
            let view = try access.fleetViewBlocking()
            let ids = view.roster.values.filter { entry in
                (id.map { entry.id == $0 } ?? true) && (hostName.map { entry.host == $0 } ?? true) && view.live[entry.id] == nil
            }.map(\.id)
            let hostKnown = hostName.map { view.seen[EtcdStoreKeys.keySafe($0)] != nil } ?? false
            guard !ids.isEmpty || hostKnown else {
                let what = id.map { "reader \($0)" } ?? "host \(hostName ?? "")"
                throw StateStoreError(
                    .notFound, "The registry on etcd has no \(what) to forget: no such roster entry, or it is live.",
                    hint: "statectl readers lists the live readers and the unreachable hosts' ones with their IDs (--json).",
                    path: access.keys.stateKey)
            }
            AsyncBridge.wait { () async throws(Never) in await access.removeDeadReaders(ids) }
            if let hostName, hostKnown {
                _ = try? AsyncBridge.wait { () async throws(EtcdFailure) in
                    try await EtcdLease.apply(access.client, [EtcdTransactions.delete(access.keys.seen(host: hostName))])
                }
            }
            return ids.count
        }
    }
}
