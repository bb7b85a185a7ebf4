import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

/// The package's client of an etcd cluster: one connection per member, opened on first use; every
/// request goes to the member that last answered and moves on to the next when that one cannot
/// serve it (refused, timed out, without a leader), each within the configured timeout. Requests
/// carry `hasleader` (a member cut off from the leader refuses them rather than answering from a
/// stale copy) and, with a user configured, the authentication token, renewed when etcd says it
/// expired.
final class EtcdClient: Sendable {
    let configuration: EtcdConfiguration
    let endpoints: [EtcdEndpoint]

    private struct Members {
        var connections: [EtcdMemberConnection?]
        /// The member to try first: the one that answered last.
        var preferred = 0
        var token: String?
        var closed = false
    }
    private let members: Mutex<Members>

    init(_ configuration: EtcdConfiguration) throws(StateStoreError) {
        self.configuration = configuration
        endpoints = try configuration.parsedEndpoints()
        members = Mutex(Members(connections: Array(repeating: nil, count: endpoints.count)))
    }

    deinit { close() }

    /// Closes every connection; requests after it fail.
    func close() {
        let open = members.withLock { members in
            members.closed = true
            defer { members.connections = members.connections.map { _ in nil } }
            return members.connections.compactMap { $0 }
        }
        for connection in open { connection.close() }
    }

    /// The endpoints, comma-separated, as the user gave them (for messages).
    var endpointList: String { endpoints.map(\.description).joined(separator: ", ") }

    /// Runs `body` on one member after another, starting with the preferred one, until one serves
    /// it. A failure that another member would not repeat (no connection, a timeout, no leader)
    /// moves to the next member; any other failure is the answer. When every member failed so, the
    /// round is tried again after a pause (50 ms, doubling to 500 ms) for as long as the request's
    /// timeout allows: an election (no leader for a second or so) or a member restarting is waited
    /// out rather than reported; past the timeout, the last round's answers are the error.
    ///
    /// - Parameter failover: false for a request that must not be sent twice (a transaction):
    ///   its first failure is returned, and the caller finds out whether it took effect.
    ///   - streaming: a watch: no deadline (its idle watchdog ends it instead).
    func call<R: Sendable>(
        failover: Bool = true, timeout: Duration? = nil, streaming: Bool = false,
        _ body: @escaping @Sendable (EtcdCall) async throws -> R
    ) async throws(EtcdFailure) -> R {
        var tried: [(endpoint: String, reason: String)] = []
        var reauthenticated = false
        let start = members.withLock { $0.preferred }
        let budget = timeout ?? configuration.requestTimeout
        let began = ContinuousClock.now
        var pause = Duration.milliseconds(50)
        var step = 0
        var round = 0
        while true {
            if step == endpoints.count {
                guard !Task.isCancelled, ContinuousClock.now - began + pause < budget else { throw .unavailable(tried: tried) }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
                step = 0
                round += 1
                tried = []
            }
            // A cancelled caller (a follow being stopped) is not failed over.
            if Task.isCancelled { throw .unavailable(tried: tried + [(endpoint: "(none)", reason: "cancelled")]) }
            let index = (start + step) % endpoints.count
            let connection = try self.connection(index)
            var options = CallOptions.defaults
            // The deadline is ours (EtcdDeadline), not gRPC's: see there why.
            // A round after the first gets what is left of the budget, so that the whole request
            // ends within about one timeout past the first round.
            let remaining = budget - (ContinuousClock.now - began)
            let deadline = streaming ? nil : round == 0 ? budget : max(.milliseconds(100), min(budget, remaining))
            options.timeout = nil
            options.waitForReady = false
            // grpc-swift refuses messages over 4 MiB by default; a watch catching up, or a
            // listing of history, may be larger than any one state.
            options.maxRequestMessageBytes = Self.largestMessage
            options.maxResponseMessageBytes = Self.largestMessage
            do {
                var authOptions = options
                authOptions.timeout = configuration.requestTimeout
                let metadata = try await metadata(connection, options: authOptions)
                let call = EtcdCall(client: connection.client, metadata: metadata, options: options, endpoint: connection.endpoint.description)
                let result = try await EtcdDeadline.run(within: deadline) { try await body(call) }
                members.withLock { $0.preferred = index }
                return result
            } catch let error as RPCError where Self.tokenNeedsRenewal(error) && !reauthenticated && configuration.user != nil {
                // The token expired (simple tokens live five minutes by default): authenticate again, once.
                reauthenticated = true
                members.withLock { $0.token = nil }
                continue
            } catch let error as RPCError where Self.isMemberFailure(error) {
                tried.append((connection.endpoint.description, EtcdFailure.reason(error)))
                if !failover { throw .unavailable(tried: tried) }
                step += 1
            } catch let error as RPCError {
                throw .refused(error, endpoint: connection.endpoint.description)
            } catch let failure as EtcdFailure {
                throw failure
            } catch {
                tried.append((connection.endpoint.description, "\(error)"))
                if !failover { throw .unavailable(tried: tried) }
                step += 1
            }
        }
    }

    /// The largest message sent or received: 1 GiB.
    static let largestMessage = 1 << 30

    /// The blocking form of ``call(failover:timeout:_:)``, for the backend's threads.
    func callBlocking<R: Sendable>(
        failover: Bool = true, timeout: Duration? = nil, streaming: Bool = false,
        _ body: @escaping @Sendable (EtcdCall) async throws -> R
    ) throws(EtcdFailure) -> R {
        try AsyncBridge.wait { () async throws(EtcdFailure) -> R in
            try await self.call(failover: failover, timeout: timeout, streaming: streaming, body)
        }
    }

    /// Whether etcd refused the token rather than the user: it expired (simple tokens live five
    /// minutes), or the users and roles changed since it was issued ("revision of auth store is
    /// old"). etcd checks this before applying anything, so the request may be sent again.
    static func tokenNeedsRenewal(_ error: RPCError) -> Bool {
        error.code == .unauthenticated || error.message.contains("auth store is old") || error.message.contains("invalid auth token")
    }

    /// A failure of this member that another may not share.
    static func isMemberFailure(_ error: RPCError) -> Bool {
        switch error.code {
        case .unavailable, .deadlineExceeded, .cancelled, .unknown, .internalError, .aborted: true
        default: false
        }
    }

    func connection(_ index: Int) throws(EtcdFailure) -> EtcdMemberConnection {
        try members.withLock { (members) throws(EtcdFailure) -> EtcdMemberConnection in
            guard !members.closed else { throw .configuration("the etcd client was closed") }
            if let connection = members.connections[index] { return connection }
            let connection = try EtcdMemberConnection(endpoints[index], configuration: configuration)
            members.connections[index] = connection
            return connection
        }
    }

    /// What every request carries: `hasleader`, and the token when a user is configured.
    private func metadata(_ connection: EtcdMemberConnection, options: CallOptions) async throws -> Metadata {
        var metadata: Metadata = ["hasleader": "true"]
        guard let user = configuration.user else { return metadata }
        if let token = members.withLock({ $0.token }) {
            metadata.addString(token, forKey: "token")
            return metadata
        }
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = user
        request.password = configuration.password ?? ""
        let auth = Etcdserverpb_Auth.Client(wrapping: connection.client)
        let response = try await auth.authenticate(request, options: options)
        members.withLock { $0.token = response.token }
        metadata.addString(response.token, forKey: "token")
        return metadata
    }
}

/// One request's connection and what it carries, handed to the code that makes the request.
struct EtcdCall: Sendable {
    let client: EtcdMemberConnection.Client
    let metadata: Metadata
    let options: CallOptions
    /// The member it goes to, for messages.
    let endpoint: String
}
