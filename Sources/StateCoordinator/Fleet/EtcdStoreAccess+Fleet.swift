import Foundation

extension EtcdStoreAccess {
    /// The registry's keys (`readers/`) in one range read, and the cluster's revision at it (a
    /// watch of the prefix from the next revision misses nothing).
    func fleetView() async throws(EtcdFailure) -> (view: FleetView, revision: Int64) {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(keys.readersPrefix)
        request.rangeEnd = Data(EtcdStoreKeys.rangeEnd(keys.readersPrefix))
        // At most this many keys: a registry flooded by whoever may write it is said, not read whole.
        request.limit = Int64(FleetView.maximumKeys)
        let response = try await client.call { [request] call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).range(request, metadata: call.metadata, options: call.options)
        }
        var view = FleetView(keys: keys)
        for value in response.kvs { view.apply(key: Array(value.key), value: Array(value.value)) }
        if response.more { view.truncatedAt = Int(response.count) }
        return (view, response.header.revision)
    }

    /// ``fleetView()`` for the backend's threads.
    func fleetViewBlocking() throws(StateStoreError) -> FleetView {
        do {
            return try AsyncBridge.wait { () async throws(EtcdFailure) in try await fleetView().view }
        } catch {
            throw translate(error, doing: "list the registered readers of", committed: nil)
        }
    }

    /// Removes the roster entries of readers found dead, each only while it has no record (a
    /// reader that came back in between keeps its entry). Best effort: the next writer's listing
    /// tries again.
    func removeDeadReaders(_ ids: [String]) async {
        for id in ids {
            let request = EtcdTransactions.request(
                compare: [EtcdTransactions.absent(keys.live(id))], success: [EtcdTransactions.delete(keys.roster(id))], failure: [])
            _ = try? await client.call { call in
                try await Etcdserverpb_KV.Client(wrapping: call.client).txn(request, metadata: call.metadata, options: call.options)
            }
        }
    }
}
