import Foundation
import GRPCCore

/// etcd's lease calls, as the reader registry uses them: grant, keep alive once, revoke. Each
/// may go to any member (they are idempotent or harmless twice: a second grant leaves a lease
/// that expires unused).
enum EtcdLease {
    /// Grants a lease of `ttl` (rounded up to whole seconds); returns its ID and the TTL granted.
    static func grant(_ client: EtcdClient, ttl: Duration, timeout: Duration? = nil) async throws(EtcdFailure) -> (id: Int64, ttl: Int64) {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = max(1, Int64(ttl.seconds.rounded(.up)))
        let response = try await client.call(timeout: timeout) { [request] call in
            try await Etcdserverpb_Lease.Client(wrapping: call.client).leaseGrant(request, metadata: call.metadata, options: call.options)
        }
        guard response.error.isEmpty, response.id != 0 else {
            throw .configuration("etcd refused a lease: \(response.error.isEmpty ? "no lease ID" : response.error)")
        }
        return (response.id, response.ttl)
    }

    /// Renews lease `id` once; returns the TTL it has now, 0 when it has expired (or never existed).
    static func keepAlive(_ client: EtcdClient, id: Int64, timeout: Duration? = nil) async throws(EtcdFailure) -> Int64 {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = id
        return try await client.call(timeout: timeout) { [request] call in
            try await Etcdserverpb_Lease.Client(wrapping: call.client).leaseKeepAlive(
                metadata: call.metadata, options: call.options,
                requestProducer: { writer in try await writer.write(request) },
                onResponse: { response in
                    for try await message in response.messages { return message.ttl }
                    return 0
                })
        }
    }

    /// Revokes lease `id`: every key attached to it is deleted at once.
    static func revoke(_ client: EtcdClient, id: Int64) async throws(EtcdFailure) {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id
        _ = try await client.call { [request] call in
            try await Etcdserverpb_Lease.Client(wrapping: call.client).leaseRevoke(request, metadata: call.metadata, options: call.options)
        }
    }

    /// Runs `operations` as transactions of at most 128 operations (etcd's default limit), each on
    /// any member: every operation here is a plain put or delete, the same if applied twice.
    static func apply(_ client: EtcdClient, _ operations: [Etcdserverpb_RequestOp], timeout: Duration? = nil) async throws(EtcdFailure) {
        var start = 0
        while start < operations.count {
            let chunk = Array(operations[start..<min(operations.count, start + 128)])
            let request = EtcdTransactions.request(compare: [], success: chunk, failure: [])
            _ = try await client.call(timeout: timeout) { [request] call in
                try await Etcdserverpb_KV.Client(wrapping: call.client).txn(request, metadata: call.metadata, options: call.options)
            }
            start += chunk.count
        }
    }
}
