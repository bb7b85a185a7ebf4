import Foundation
import GRPCCore
import Logging

/// One store's requests to the cluster: its keys, read and written through ``EtcdClient``, and
/// every failure turned into a ``StateStoreError`` that names the key, the endpoints and what to
/// do. Each method blocks its thread (never call it on the cooperative pool).
struct EtcdStoreAccess: Sendable {
    let client: EtcdClient
    let keys: EtcdStoreKeys
    /// The fault-injection seam of ``transaction(_:)``: tests lose a transaction's answer, or
    /// hold a transaction back and send it later, to play a proposal that outlived its client.
    var transactionSeam: TransactionSeam? = nil
    /// Where the store's background work (reader registrations, a mirror's publishing) logs.
    var logger = StateStoreOptions().logger

    /// Gets each transaction and the function that sends it; returns what the caller sees.
    typealias TransactionSeam = @Sendable (
        _ request: Etcdserverpb_TxnRequest, _ send: (Etcdserverpb_TxnRequest) throws(EtcdFailure) -> TransactionResult
    ) throws(EtcdFailure) -> TransactionResult

    init(client: EtcdClient, keys: EtcdStoreKeys) {
        self.client = client
        self.keys = keys
    }

    /// How the store is named in messages: its state key and the cluster.
    var location: String { "etcd key \(keys.stateKey) (\(client.endpointList))" }

    /// The newest version's value, nil when the store does not exist.
    func readState() throws(StateStoreError) -> EtcdValue? {
        try read(keys.state, doing: "read")
    }

    /// The newest version's value (nil when the store does not exist) and the cluster's revision
    /// when it was read, for async callers (a watch).
    func readStateAndRevision() async throws(EtcdFailure) -> (value: EtcdValue?, revision: Int64) {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(keys.state)
        let response = try await client.call { [request] call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).range(request, metadata: call.metadata, options: call.options)
        }
        return (response.kvs.first.map(EtcdValue.init), response.header.revision)
    }

    /// ``readStateAndRevision()`` for the backend's threads.
    func readStateWithRevision() throws(StateStoreError) -> (value: EtcdValue?, revision: Int64) {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(keys.state)
        let response = try range(request, doing: "read")
        return (response.kvs.first.map(EtcdValue.init), response.header.revision)
    }

    /// One key's value, nil when it does not exist.
    func read(_ key: [UInt8], revision: Int64 = 0, doing operation: String) throws(StateStoreError) -> EtcdValue? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key)
        request.revision = revision
        let response = try range(request, doing: operation)
        return response.kvs.first.map(EtcdValue.init)
    }

    /// The keys in `[from, to)`, in key order, with their values.
    func list(from: [UInt8], to: [UInt8], doing operation: String) throws(StateStoreError) -> [EtcdValue] {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(from)
        request.rangeEnd = Data(to)
        let response = try range(request, doing: operation)
        return response.kvs.map(EtcdValue.init)
    }

    /// Every key under `prefix`, in key order, with values unless `keysOnly`.
    func list(_ prefix: [UInt8], keysOnly: Bool = false, doing operation: String) throws(StateStoreError) -> [EtcdValue] {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(prefix)
        request.rangeEnd = Data(EtcdStoreKeys.rangeEnd(prefix))
        request.keysOnly = keysOnly
        let response = try range(request, doing: operation)
        return response.kvs.map(EtcdValue.init)
    }

    /// A range request on any member, its failure translated.
    func range(_ request: Etcdserverpb_RangeRequest, doing operation: String) throws(StateStoreError) -> Etcdserverpb_RangeResponse {
        try perform(operation) { call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).range(request, metadata: call.metadata, options: call.options)
        }
    }

    /// What a transaction did: whether its comparisons held, the store's revision after it, and
    /// the ranges its branch read.
    struct TransactionResult: Sendable {
        var succeeded: Bool
        var revision: Int64
        var ranges: [[EtcdValue]]
    }

    /// Runs a transaction on one member, never sent twice: a failure leaves its outcome unknown
    /// (``EtcdFailure``), and the caller finds out.
    func transaction(_ request: Etcdserverpb_TxnRequest) throws(EtcdFailure) -> TransactionResult {
        if let seam = transactionSeam { return try seam(request, send) }
        return try send(request)
    }

    private func send(_ request: Etcdserverpb_TxnRequest) throws(EtcdFailure) -> TransactionResult {
        let response = try client.callBlocking(failover: false) { call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).txn(request, metadata: call.metadata, options: call.options)
        }
        let ranges = response.responses.compactMap { op -> [EtcdValue]? in
            if case .responseRange(let range)? = op.response { return range.kvs.map(EtcdValue.init) }
            return nil
        }
        return TransactionResult(succeeded: response.succeeded, revision: response.header.revision, ranges: ranges)
    }

    /// Runs a transaction that may reach more than one member (a creation guarded by the key's
    /// revision): the caller tells its own write from another's when the comparison fails.
    func idempotentTransaction(_ request: Etcdserverpb_TxnRequest, doing operation: String) throws(StateStoreError) -> TransactionResult {
        let response = try perform(operation, writes: true) { call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).txn(request, metadata: call.metadata, options: call.options)
        }
        let ranges = response.responses.compactMap { op -> [EtcdValue]? in
            if case .responseRange(let range)? = op.response { return range.kvs.map(EtcdValue.init) }
            return nil
        }
        return TransactionResult(succeeded: response.succeeded, revision: response.header.revision, ranges: ranges)
    }

    /// A request that may go to any member (reads, guarded writes), its failure translated.
    ///
    /// - Parameter writes: whether it would have changed the store (then its failure says that
    ///   the committed state is unchanged).
    func perform<R: Sendable>(
        _ operation: String, writes: Bool = false, _ body: @escaping @Sendable (EtcdCall) async throws -> R
    ) throws(StateStoreError) -> R {
        do {
            return try client.callBlocking(body)
        } catch {
            throw translate(error, doing: operation, committed: writes ? false : nil)
        }
    }

    /// The error a user reads for a failed request.
    ///
    /// - Parameter committed: what is known of a write: false when nothing was written, nil
    ///   when that is unknown.
    func translate(_ failure: EtcdFailure, doing operation: String, committed: Bool?) -> StateStoreError {
        switch failure {
        case .unavailable(let tried):
            let attempts = tried.map { "\($0.endpoint) (\($0.reason))" }.joined(separator: ", ")
            var error = StateStoreError(
                .unavailable,
                "Could not \(operation) \(keys.stateKey) on etcd: no member answered within \(Self.seconds(client.configuration.requestTimeout)) (tried \(attempts.isEmpty ? client.endpointList : attempts)).",
                hint: "Check that the members are running and reachable and that the cluster has a leader (etcdctl --endpoints \(client.endpoints.map(\.description).joined(separator: ",")) endpoint health).",
                path: keys.stateKey)
            error.committedStateUnchanged = committed == false
            return error
        case .refused(let rpc, let endpoint):
            let reason = EtcdFailure.reason(rpc)
            var error: StateStoreError
            switch rpc.code {
            case .permissionDenied:
                error = StateStoreError(
                    .permissionDenied,
                    "etcd (\(endpoint)) refused to let \(client.configuration.user.map { "user \"\($0)\"" } ?? "this client") \(operation) \(keys.stateKey): \(reason).",
                    hint: "Grant the user's role access to the store's keys: writers readwrite, readers read (etcdctl role grant-permission ROLE --prefix=true readwrite \(keys.base)).",
                    path: keys.stateKey)
            case .unauthenticated:
                error = StateStoreError(
                    .permissionDenied, "etcd (\(endpoint)) did not accept this client's credentials to \(operation) \(keys.stateKey): \(reason).",
                    hint: "The cluster has authentication on: give a user and password (statectl --user NAME:PASSWORD, or EtcdConfiguration.user/password).",
                    path: keys.stateKey)
            case .invalidArgument where reason.contains("authentication failed"):
                error = StateStoreError(
                    .permissionDenied, "etcd (\(endpoint)) refused the user name or password to \(operation) \(keys.stateKey): \(reason).",
                    hint: "Check the user and password (statectl --user NAME:PASSWORD).", path: keys.stateKey)
            case .invalidArgument where reason.contains("too large"):
                error = StateStoreError(
                    .tooLarge, "etcd (\(endpoint)) refused to \(operation) \(keys.stateKey): \(reason).",
                    hint: "etcd refuses requests over its --max-request-bytes (1.5 MiB by default); a commit that keeps history carries the state twice. Lower the store's maximum size or raise etcd's limit.",
                    path: keys.stateKey)
            default:
                error = StateStoreError(
                    .ioFailure, "etcd (\(endpoint)) refused to \(operation) \(keys.stateKey): \(reason) (\(rpc.code)).",
                    path: keys.stateKey)
            }
            error.committedStateUnchanged = committed == false
            return error
        case .configuration(let text):
            var error = StateStoreError(.invalidArgument, "Cannot \(operation) \(keys.stateKey) on etcd: \(text).", path: keys.stateKey)
            error.committedStateUnchanged = committed == false
            return error
        }
    }

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
