import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// One HTTP/2 connection to one member, kept for the life of the client: every request and watch
/// to that member shares it. Its connection runs in a task of its own until ``close()``.
final class EtcdMemberConnection: Sendable {
    typealias Client = GRPCClient<HTTP2ClientTransport.Posix>

    let endpoint: EtcdEndpoint
    let client: Client

    init(_ endpoint: EtcdEndpoint, configuration: EtcdConfiguration) throws(EtcdFailure) {
        self.endpoint = endpoint
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if endpoint.secure {
            security = Self.security(configuration)
        } else {
            security = .plaintext
        }
        do {
            let transport = try HTTP2ClientTransport.Posix(
                target: Self.target(endpoint), transportSecurity: security,
                config: .defaults { config in
                    // Fail over quickly: a member that is down is retried by the next request, not by waiting here.
                    config.backoff.initial = .milliseconds(100)
                    config.backoff.max = .seconds(1)
                    config.connection.maxIdleTime = nil
                    // etcd's BDP PINGs would trip swift-nio-http2's flood guard: answered ahead of it.
                    config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in EtcdPingAnswerer.install(on: channel) }
                }, eventLoopGroup: EtcdTaskExecutor.shared.group)
            client = GRPCClient(transport: transport)
        } catch {
            throw .configuration("cannot set up a connection to \(endpoint): \(error)")
        }
        let client = client
        Task(executorPreference: EtcdTaskExecutor.shared) { try? await client.runConnections() }
    }

    /// An IP address is dialled as such (TLS then checks it against the certificate's IP names:
    /// an IP address cannot be sent as a TLS server name); a host name is resolved.
    private static func target(_ endpoint: EtcdEndpoint) -> any ResolvableTarget {
        var ipv4 = in_addr()
        var ipv6 = in6_addr()
        if inet_pton(AF_INET, endpoint.host, &ipv4) == 1 { return .ipv4(address: endpoint.host, port: endpoint.port) }
        if inet_pton(AF_INET6, endpoint.host, &ipv6) == 1 { return .ipv6(address: endpoint.host, port: endpoint.port) }
        return .dns(host: endpoint.host, port: endpoint.port)
    }

    private static func security(_ configuration: EtcdConfiguration) -> HTTP2ClientTransport.Posix.TransportSecurity {
        let trust: (inout HTTP2ClientTransport.Posix.TransportSecurity.TLS) -> Void = { config in
            if let ca = configuration.caFile { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
        }
        if let certificate = configuration.certificateFile, let key = configuration.keyFile {
            return .mTLS(certificateChain: [.file(path: certificate, format: .pem)], privateKey: .file(path: key, format: .pem), configure: trust)
        }
        return .tls(configure: trust)
    }

    func close() { client.beginGracefulShutdown() }
}
