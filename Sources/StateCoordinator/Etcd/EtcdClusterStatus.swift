import GRPCCore

/// What each member of the cluster holding a store says of itself, and the store's revision:
/// what `statectl status` shows for a store on etcd.
public struct EtcdClusterStatus: Sendable, Equatable {
    /// One member, as its endpoint answered (or did not).
    public struct Member: Sendable, Equatable {
        /// The client URL asked.
        public var endpoint: String
        /// The member's ID, when it answered.
        public var memberID: UInt64?
        /// The leader this member follows (0: none).
        public var leaderID: UInt64?
        /// etcd's version on the member.
        public var version: String?
        /// The raft term and the index it applied.
        public var raftTerm: UInt64?
        /// See ``raftTerm``.
        public var raftAppliedIndex: UInt64?
        /// The size of its database file, in bytes.
        public var databaseBytes: Int64?
        /// The alarms it reports (`NOSPACE`, `CORRUPT`).
        public var errors: [String]
        /// Why it did not answer, when it did not.
        public var problem: String?

        /// Whether it answered and follows a leader.
        public var isHealthy: Bool { problem == nil && (leaderID ?? 0) != 0 && errors.isEmpty }
        /// Whether it is the leader.
        public var isLeader: Bool { memberID != nil && memberID == leaderID }
    }

    /// Every endpoint configured, in order.
    public var members: [Member]
    /// The revision of the cluster when the store was read.
    public var clusterRevision: Int64?
    /// The revision that last changed the store's state key (its `mod_revision`).
    public var storeRevision: Int64?

    /// The leader most members answering follow, nil when none does.
    public var leaderID: UInt64? {
        let leaders = members.compactMap(\.leaderID).filter { $0 != 0 }
        return Dictionary(grouping: leaders, by: { $0 }).max { $0.value.count < $1.value.count }?.key
    }

    /// The endpoint of the leader, when one of the configured endpoints is it.
    public var leaderEndpoint: String? { members.first { $0.isLeader }?.endpoint }

    /// Whether the cluster has a leader and every configured member answered, following it.
    public var isHealthy: Bool { leaderID != nil && members.allSatisfy(\.isHealthy) }
}

extension EtcdClient {
    /// Asks every configured member for its status, each within the request timeout.
    func clusterStatus(stateKey: [UInt8]) async -> EtcdClusterStatus {
        var members: [EtcdClusterStatus.Member] = []
        await withTaskGroup(of: (Int, EtcdClusterStatus.Member).self) { group in
            for index in endpoints.indices {
                group.addTask { (index, await self.memberStatus(index)) }
            }
            var answers: [Int: EtcdClusterStatus.Member] = [:]
            for await (index, member) in group { answers[index] = member }
            members = endpoints.indices.map { answers[$0]! }
        }
        var status = EtcdClusterStatus(members: members)
        var request = Etcdserverpb_RangeRequest()
        request.key = .init(stateKey)
        if let response = try? await call({ [request] call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).range(request, metadata: call.metadata, options: call.options)
        }) {
            status.clusterRevision = response.header.revision
            status.storeRevision = response.kvs.first?.modRevision
        }
        return status
    }

    private func memberStatus(_ index: Int) async -> EtcdClusterStatus.Member {
        var member = EtcdClusterStatus.Member(endpoint: endpoints[index].description, errors: [])
        do {
            let connection = try connection(index)
            var options = GRPCCore.CallOptions.defaults
            options.timeout = configuration.requestTimeout
            options.waitForReady = false
            let response = try await Etcdserverpb_Maintenance.Client(wrapping: connection.client).status(
                Etcdserverpb_StatusRequest(), options: options)
            member.memberID = response.header.memberID
            member.leaderID = response.leader
            member.version = response.version
            member.raftTerm = response.raftTerm
            member.raftAppliedIndex = response.raftAppliedIndex
            member.databaseBytes = response.dbSize
            member.errors = response.errors
        } catch let error as GRPCCore.RPCError {
            member.problem = EtcdFailure.reason(error)
        } catch {
            member.problem = "\(error)"
        }
        return member
    }
}

extension ReadableStateStore {
    /// The cluster's status, for a store on etcd (nil for a store in a directory): each member's
    /// answer (or why it gave none), the leader, and the store's revision. Never throws: a member
    /// that does not answer is part of the status.
    public func etcdStatus() async -> EtcdClusterStatus? {
        guard case .etcd(let access) = place else { return nil }
        // On the package's etcd thread, as every other call: never waiting for the cooperative pool.
        return await withTaskExecutorPreference(EtcdTaskExecutor.shared) {
            await access.client.clusterStatus(stateKey: access.keys.state)
        }
    }
}
