import GRPCCore

/// Why a request to the cluster failed, before the backend says what it means for the store.
enum EtcdFailure: Error, Sendable {
    /// No member could serve it: each one tried, with why.
    case unavailable(tried: [(endpoint: String, reason: String)])
    /// A member answered with an error that another member would answer too (permission,
    /// authentication, a request too large, a compacted revision).
    case refused(RPCError, endpoint: String)
    /// The connection could not even be set up (a certificate file that does not load).
    case configuration(String)

    /// etcd's message, without its `etcdserver: ` prefix.
    var reason: String {
        switch self {
        case .unavailable(let tried): tried.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; ")
        case .refused(let error, _): Self.reason(error)
        case .configuration(let text): text
        }
    }

    static func reason(_ error: RPCError) -> String {
        var message = error.message
        if message.hasPrefix("etcdserver: ") { message.removeFirst("etcdserver: ".count) }
        if message.isEmpty { message = "\(error.code)" }
        // A connection that could not be set up says why underneath (refused, a TLS handshake).
        if let cause = error.cause {
            let detail = (cause as? RPCError).map { reason($0) } ?? "\(cause)"
            if !detail.isEmpty, !message.contains(detail) { message += ": " + detail }
        }
        return message
    }

    /// Whether the revision asked for was compacted away.
    var isCompacted: Bool {
        if case .refused(let error, _) = self { return error.code == .outOfRange || error.message.contains("compacted") }
        return false
    }
}
