import StateCoordinator

/// A store on etcd's cluster status as JSON (`statectl status --json`'s `etcd` key): whether it
/// is healthy, the leader, the revisions, and each member's answer or problem.
public enum EtcdStatusDocument {
    public static func json(_ status: EtcdClusterStatus) -> JSONValue {
        .object([
            "healthy": .bool(status.isHealthy),
            "leader": status.leaderEndpoint.map(JSONValue.string) ?? (status.leaderID.map { .string(String($0, radix: 16)) } ?? .null),
            "clusterRevision": status.clusterRevision.map { .int($0) } ?? .null,
            "storeRevision": status.storeRevision.map { .int($0) } ?? .null,
            "members": .array(status.members.map(member)),
        ])
    }

    static func member(_ member: EtcdClusterStatus.Member) -> JSONValue {
        .object([
            "endpoint": .string(member.endpoint),
            "id": member.memberID.map { .string(String($0, radix: 16)) } ?? .null,
            "leader": .bool(member.isLeader),
            "version": member.version.map(JSONValue.string) ?? .null,
            "raftTerm": member.raftTerm.map { .int(Int64(clamping: $0)) } ?? .null,
            "databaseBytes": member.databaseBytes.map { .int($0) } ?? .null,
            "errors": .array(member.errors.map(JSONValue.string)),
            "problem": member.problem.map(JSONValue.string) ?? .null,
        ])
    }

    /// The text lines `statectl status` prints for the cluster.
    public static func lines(_ status: EtcdClusterStatus) -> [String] {
        var lines = [
            "cluster:      \(status.isHealthy ? "healthy" : "DEGRADED"), leader \(status.leaderEndpoint ?? status.leaderID.map { String($0, radix: 16) } ?? "NONE")"
                + ", revision \(status.clusterRevision.map(String.init) ?? "?") (store last changed at \(status.storeRevision.map(String.init) ?? "?"))"
        ]
        for member in status.members {
            let state: String
            if let problem = member.problem {
                state = "UNREACHABLE: \(problem)"
            } else {
                state = (member.isLeader ? "leader" : (member.leaderID ?? 0) == 0 ? "NO LEADER" : "follower")
                    + ", etcd \(member.version ?? "?"), term \(member.raftTerm.map(String.init) ?? "?")"
                    + (member.errors.isEmpty ? "" : ", ALARMS: \(member.errors.joined(separator: ", "))")
            }
            lines.append("member:       \(member.endpoint) \(state)")
        }
        return lines
    }
}
