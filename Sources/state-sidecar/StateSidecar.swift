import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import NIOCore
import Prometheus
import ServiceLifecycle
import StateCoordinator
import StateDocuments
import Synchronization

/// The monitoring sidecar: Prometheus metrics, health, the state and a live event feed, read-only.
@main
struct StateSidecar: AsyncParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "state-sidecar",
        abstract: "Serve a store's metrics, health, state and live events over HTTP. Only reads.",
        discussion: """
            Paths: /metrics (Prometheus), /livez, /readyz (?verbose), /status, /state (ETag = version), /events \
            (Server-Sent Events). With several stores (repeat --dir, and --name in the same order), /status, /state \
            and /events take ?store=NAME. Listens on loopback unless --listen names another address, which needs \
            --token-file (a bearer token, checked on every path but /livez). --listen unix:PATH serves on a Unix \
            socket with the stores' own permissions: whoever may read the state files may connect, nobody else. \
            On loopback TCP every local user may connect: a store its users may not all read (its state file is not \
            readable by others) then needs --token-file, or --loopback-without-token to accept that.

            Example: state-sidecar --dir /srv/bot --listen unix:/run/state-sidecar/bot.sock
            Example: state-sidecar --dir /srv/bot --listen 127.0.0.1:9464 --token-file /etc/statecoord/token
            Example: state-sidecar --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 --name state --listen unix:/run/state-sidecar/etcd.sock
            """,
        version: version)

    @Option(name: .customLong("dir"), help: ArgumentHelp("A store's directory (repeat for several).", valueName: "dir"))
    var directories: [String] = []
    @Option(
        name: .customLong("name"),
        help: ArgumentHelp("The store's name, for the --dir in the same position (default state); with --etcd, each a store on the cluster.", valueName: "name"))
    var names: [String] = []
    @Option(
        help: ArgumentHelp(
            "Serve stores on this etcd cluster instead of directories: members' client URLs, comma-separated (see --name).", valueName: "url[,url…]"))
    var etcd: String?
    @Option(help: ArgumentHelp("The etcd key prefix (default /statecoord/v1).", valueName: "prefix")) var etcdPrefix: String?
    @Option(help: ArgumentHelp("The CA certificate (PEM) that signed the etcd members' certificates.", valueName: "file")) var cacert: String?
    @Option(help: ArgumentHelp("This client's certificate (PEM), for etcd members that require one.", valueName: "file")) var cert: String?
    @Option(help: ArgumentHelp("The key of --cert (PEM).", valueName: "file")) var key: String?
    @Option(
        help: ArgumentHelp(
            "The etcd user (a read-only role is enough), as NAME or NAME:PASSWORD; the password may come from $STATE_SIDECAR_ETCD_PASSWORD.",
            valueName: "name[:password]"))
    var etcdUser: String?
    @Option(help: ArgumentHelp("HOST:PORT to listen on, or unix:PATH (a Unix socket with the stores' permissions).", valueName: "host:port|unix:path"))
    var listen = "127.0.0.1:9464"
    @Option(help: ArgumentHelp("A file holding the bearer token (required off loopback).", valueName: "file")) var tokenFile: String?
    @Option(help: ArgumentHelp("/readyz fails while a registered reader lags more than this many versions.", valueName: "n"))
    var maxReaderLag: UInt64 = 10
    @Option(help: ArgumentHelp("The most event streams open at once.", valueName: "n")) var maxStreams = 100
    @Option(
        help: ArgumentHelp(
            "The most event streams one client may hold: one user where the kernel says (a Unix socket's peer, a loopback TCP peer), else one address.",
            valueName: "n"))
    var maxStreamsPerClient = 10
    @Option(help: ArgumentHelp("The most connections open at once; more wait to be accepted.", valueName: "n")) var maxConnections = 1000
    @Option(
        help: ArgumentHelp(
            "Seconds a connection may stay idle, or take to send a request's headers, before it is closed (streams being answered are not idle).",
            valueName: "seconds"))
    var idleTimeout: Double = 15
    @Option(
        name: .customLong("gauge"),
        help: ArgumentHelp(
            "Export the state's value at this JSON Pointer as statecoord_state_value{store,pointer} (numbers as they are, booleans 1/0; repeat for several). Default: /halt, while it is a boolean.",
            valueName: "pointer"))
    var gauges: [String] = []
    @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM); needs --tls-key.", valueName: "file")) var tlsCert: String?
    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "file")) var tlsKey: String?
    @Option(
        name: .customLong("allow-host"),
        help: ArgumentHelp("On loopback without a token, also answer requests for this Host name (a reverse proxy that keeps the client's Host).", valueName: "name"))
    var allowedHosts: [String] = []
    @Flag(help: "Allow a bearer token over plain HTTP off loopback (anyone on the path can read the token and the state).")
    var insecurePlaintext = false
    @Flag(
        help: "Serve on loopback TCP without a token although a store's state file is not readable by every user (every local user can then read it through the sidecar).")
    var loopbackWithoutToken = false

    /// The cluster, when the stores are on etcd.
    private func etcdConfiguration() throws -> EtcdConfiguration? {
        guard let etcd else { return nil }
        let (user, password) = EtcdArguments.credentials(
            etcdUser, environmentPassword: ProcessInfo.processInfo.environment["STATE_SIDECAR_ETCD_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 })
        do {
            return try EtcdConfiguration(
                endpoints: EtcdArguments.endpoints(etcd), prefix: etcdPrefix ?? EtcdConfiguration.defaultPrefix, caFile: cacert,
                certificateFile: cert, keyFile: key, user: user, password: password)
        } catch {
            throw ValidationError("--etcd: \(error.message) \(error.hint ?? "")")
        }
    }

    /// The state files served.
    private var stateFiles: [String] {
        directories.enumerated().map { index, directory in directory + "/" + (index < names.count ? names[index] : "state") + ".json" }
    }

    func validate() throws {
        if etcd != nil {
            guard directories.isEmpty else { throw ValidationError("--dir and --etcd name stores in two places: give one of them.") }
            _ = try etcdConfiguration()
        } else {
            guard !directories.isEmpty else { throw ValidationError("name a store with --dir DIR, or stores on etcd with --etcd URL.") }
            guard names.count <= directories.count else { throw ValidationError("each --name needs a --dir before it.") }
            if let option = [("--cacert", cacert), ("--cert", cert), ("--key", key), ("--etcd-user", etcdUser), ("--etcd-prefix", etcdPrefix)].first(where: { $0.1 != nil })?.0 {
                throw ValidationError("\(option) applies to stores on etcd: give --etcd URL too.")
            }
        }
        guard let address = ListenAddress(listen) else {
            throw ValidationError("--listen takes HOST:PORT or unix:PATH (at most 107 bytes), not '\(listen)'.")
        }
        if address.unixPath == nil && !address.isLoopback && tokenFile == nil {
            throw ValidationError("listening on \(address.host) (not loopback) needs --token-file: anyone who can reach it could read the state.")
        }
        guard maxStreams > 0 else { throw ValidationError("--max-streams must be positive.") }
        guard maxStreamsPerClient > 0 else { throw ValidationError("--max-streams-per-client must be positive.") }
        guard maxConnections > maxStreams else { throw ValidationError("--max-connections must be above --max-streams (\(maxStreams)).") }
        guard idleTimeout > 0, idleTimeout <= 3600 else { throw ValidationError("--idle-timeout must be from 0 to 3600 seconds.") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together.") }
        if address.unixPath == nil && !address.isLoopback && tlsCert == nil && !insecurePlaintext {
            throw ValidationError(
                "listening on \(address.host) (not loopback) over plain HTTP would send the token and the state in clear: give --tls-cert and --tls-key, or --insecure-plaintext to accept that.")
        }
        for pointer in gauges {
            do { _ = try JSONPointer(pointer) } catch { throw ValidationError("--gauge \(pointer): \(error.reason).") }
        }
        if etcd != nil, address.isLoopback, tokenFile == nil, !loopbackWithoutToken {
            throw ValidationError(
                "the stores on etcd would be readable by every local user through \(address.description): give --token-file, listen on unix:PATH (a socket only this user may open), or pass --loopback-without-token to accept that.")
        }
        if etcd == nil && address.isLoopback && tokenFile == nil && !loopbackWithoutToken {
            // Any local user may connect to a loopback port: what the sidecar can read, they could.
            for path in stateFiles {
                var status = stat()
                // Unreadable by others: its mode, a directory above it others cannot search, or a
                // file that cannot be examined (refused rather than assumed open).
                if stat(path, &status) != 0 || status.st_mode & 0o004 == 0 || !UnixSocketAccess.othersCanReach(path) {
                    throw ValidationError(
                        "\(path) is mode \(String(status.st_mode & 0o777, radix: 8)) (or in a directory others cannot search): users who may not read it could read it through this sidecar on \(address.description). Give --token-file, listen on unix:PATH (the socket gets the store's permissions), or pass --loopback-without-token to accept that.")
                }
            }
        }
    }

    func run() async throws {
        let address = ListenAddress(listen)!
        var token: [UInt8]?
        if let tokenFile {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: tokenFile)) } catch {
                let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
                throw ValidationError("--token-file \(tokenFile) cannot be read: \(reason ?? error.localizedDescription).")
            }
            guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), text.count >= 16,
                !text.contains(where: \.isNewline)
            else {
                throw ValidationError("--token-file \(tokenFile) must hold one token of at least 16 characters (UTF-8, one line).")
            }
            token = Array(text.utf8)
        }
        let connections = ConnectionCount(limit: maxConnections)
        ConnectionCount.raiseOpenFileLimit(for: maxConnections)
        let registry = PrometheusCollectorRegistry()
        var monitors: [StoreMonitor] = []
        if let etcd = try etcdConfiguration() {
            for name in names.isEmpty ? ["state"] : names {
                monitors.append(try await StoreMonitor.open(etcd: etcd, name: name, registry: registry))
            }
        }
        for (index, directory) in directories.enumerated() {
            monitors.append(try await StoreMonitor.open(directory: directory, name: index < names.count ? names[index] : "state", registry: registry))
        }
        let logger = Logger(label: "state-sidecar")
        let router = SidecarRoutes.router(
            monitors: monitors, metrics: SidecarMetrics(registry: registry, gauges: gauges.isEmpty ? nil : gauges.compactMap { try? JSONPointer($0) }), token: token, maxLag: maxReaderLag,
            streams: StreamCount(limit: maxStreams, perClient: maxStreamsPerClient), connections: connections, loopbackOnly: address.isLoopback,
            allowedHosts: Set(allowedHosts.map { $0.lowercased() }))
        var socketAccess: (mode: mode_t, owner: uid_t?, group: gid_t?)?
        if let path = address.unixPath {
            socketAccess = try prepareSocket(at: path)
        }
        let access = socketAccess
        let app = Application(
            router: router, server: try server(),
            configuration: .init(
                address: address.unixPath.map { .unixDomainSocket(path: $0) } ?? .hostname(address.host, port: address.port),
                serverName: "state-sidecar", availableConnectionsDelegate: connections.delegate),
            onServerRunning: { channel in
                if let path = address.unixPath, let access {
                    guard UnixSocketAccess.apply(access, to: path) else {
                        FileHandle.standardError.write(Data("state-sidecar: cannot give \(path) the stores' permissions; stopping.\n".utf8))
                        unlink(path)
                        Glibc.exit(1)
                    }
                    var status = stat()
                    _ = stat(path, &status)
                    FileHandle.standardError.write(
                        Data("state-sidecar: listening on unix:\(path) (mode \(String(status.st_mode & 0o777, radix: 8)), uid \(status.st_uid), gid \(status.st_gid))\n".utf8))
                    return
                }
                let port = channel.localAddress?.port ?? address.port
                FileHandle.standardError.write(Data("state-sidecar: listening on \(address.host):\(port)\n".utf8))
            },
            logger: logger)
        defer { if let path = address.unixPath { unlink(path) } }
        let group = ServiceGroup(
            configuration: .init(services: [app] + monitors.map(\.reader) + monitors.map(\.feed), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw SidecarFailure("cannot listen on \(listen): the address is in use (another sidecar, or another server on that port).")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL || error.errnoCode == EACCES {
            throw SidecarFailure("cannot listen on \(listen): \(String(cString: strerror(error.errnoCode))).")
        }
    }

    /// Checks `path` is free (nothing there, or a socket nobody listens on: a sidecar that was
    /// killed) and returns the access the socket will get. The socket is made under umask 0177, so
    /// that it is the sidecar's alone until it gets its access.
    private func prepareSocket(at path: String) throws -> (mode: mode_t, owner: uid_t?, group: gid_t?) {
        switch UnixSocketAccess.occupant(of: path) {
        case .other:
            throw SidecarFailure("cannot listen on unix:\(path): something that is not a socket is there; remove it or choose another path.")
        case .socket where UnixSocketAccess.isInUse(path):
            throw SidecarFailure("cannot listen on unix:\(path): another process listens there (another sidecar?).")
        case .socket, .nothing:
            break
        }
        if UnixSocketAccess.directoryIsShared(path) {
            throw SidecarFailure(
                "cannot listen on unix:\(path): its directory is writable by other users without the sticky bit, so one could swap the socket before it gets the store's permissions; use a directory only the sidecar's user may write (/run/state-sidecar).")
        }
        // Stores on etcd have no file whose permissions the socket could copy: only this user.
        if etcd != nil { umask(0o177); return (0o600, nil, nil) }
        guard let access = UnixSocketAccess.access(for: stateFiles) else {
            throw SidecarFailure("cannot listen on unix:\(path): a store's state file cannot be examined for its permissions.")
        }
        umask(0o177)
        return access
    }

    /// HTTP/1.1, over TLS when --tls-cert and --tls-key are given.
    private func server() throws -> HTTPServerBuilder {
        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(Int64(idleTimeout * 1e9))))
        guard let tlsCert, let tlsKey else { return http1 }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(tlsCert) } catch {
            throw SidecarFailure("--tls-cert \(tlsCert) cannot be used: \(Self.reason(error)).")
        }
        guard !chain.isEmpty else { throw SidecarFailure("--tls-cert \(tlsCert) holds no PEM certificate.") }
        do { key = try NIOSSLPrivateKey(file: tlsKey, format: .pem) } catch {
            throw SidecarFailure("--tls-key \(tlsKey) cannot be used: \(Self.reason(error)).")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do { return try .tls(http1, tlsConfiguration: configuration) } catch {
            throw SidecarFailure("--tls-cert and --tls-key cannot be used together: \(Self.reason(error)).")
        }
    }

    /// A file or TLS error in words: the errno's text for a file that cannot be opened.
    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}

/// A failure to start, said in one line.
struct SidecarFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
