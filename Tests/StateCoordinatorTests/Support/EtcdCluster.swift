import Foundation
import Synchronization
import ToolEtcd

@testable import StateCoordinator

/// A real etcd cluster (Debian's `etcd-server`, 3.4) for one test: members on loopback ports the
/// kernel picked, their data in a temporary directory, each a process the test can kill, stop
/// and restart. Members are stopped (SIGKILL, then reaped) when the value is dropped.
final class EtcdCluster: Sendable {
    struct Member: Sendable {
        let name: String
        let clientPort: Int
        let peerPort: Int
        let secure: Bool
        var clientURL: String { "\(secure ? "https" : "http")://127.0.0.1:\(clientPort)" }
        var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    /// The certificates of a cluster that speaks TLS to its clients and requires their certificates.
    struct Certificates: Sendable {
        let ca: String
        let server: String
        let serverKey: String
        let client: String
        let clientKey: String
    }

    let members: [Member]
    let directory = TemporaryDirectory()
    /// With `tls`: the CA, the members' certificate and a client's (CN statecoord-client).
    let certificates: Certificates?
    private let extraFlags: [String]
    private let running: Mutex<[RunningHelper?]>

    /// The members' client URLs, comma-separated (statectl --etcd).
    var endpoints: String { members.map(\.clientURL).joined(separator: ",") }
    var endpointList: [String] { members.map(\.clientURL) }

    /// Starts `size` members and waits until the cluster is healthy.
    ///
    /// - Parameters:
    ///   - fsync: false runs members with `--unsafe-no-fsync` (tests that do not cut power).
    ///   - flags: more flags for every member.
    ///   - tls: clients speak TLS (a CA made for the test) and must present a certificate it signed.
    init(size: Int = 1, fsync: Bool = false, tls: Bool = false, flags: [String] = []) throws {
        var ports = try LocalEtcdCluster.freeLoopbackPorts(2 * size)
        members = (0..<size).map { index in
            Member(name: "m\(index)", clientPort: ports.removeFirst(), peerPort: ports.removeFirst(), secure: tls)
        }
        var tlsFlags: [String] = []
        if tls {
            let made = try Self.makeCertificates(in: directory)
            certificates = made
            tlsFlags = ["--cert-file", made.server, "--key-file", made.serverKey, "--trusted-ca-file", made.ca, "--client-cert-auth"]
        } else {
            certificates = nil
        }
        extraFlags = (fsync ? [] : ["--unsafe-no-fsync"]) + ["--experimental-watch-progress-notify-interval", "1s"] + tlsFlags + flags
        running = Mutex(Array(repeating: nil, count: size))
        for index in members.indices { try start(index, initial: true) }
        try waitUntilHealthy()
    }

    deinit {
        for member in running.withLock({ $0 }) {
            member?.signal(SIGKILL)
            _ = member?.waitForExit(timeout: .seconds(10))
        }
    }

    /// A configuration of every member, with short timeouts for tests.
    func configuration(
        prefix: String = EtcdConfiguration.defaultPrefix, requestTimeout: Duration = .seconds(3), watchIdleTimeout: Duration = .seconds(5)
    ) throws -> EtcdConfiguration {
        try EtcdConfiguration(endpoints: endpointList, prefix: prefix, requestTimeout: requestTimeout, watchIdleTimeout: watchIdleTimeout)
    }

    /// Starts member `index` (again, after ``kill(_:)``: same data, same ports).
    func start(_ index: Int, initial: Bool = false) throws {
        let member = members[index]
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let arguments = [
            "--name", member.name, "--data-dir", directory.file(member.name),
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", cluster, "--initial-cluster-token", "statecoord-test-\(getpid())-\(members[0].clientPort)",
            "--initial-cluster-state", "new", "--log-level", "warn",
            // Quick elections on a loaded 2-core machine without flapping.
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ] + extraFlags
        let process = try RunningHelper(arguments, executable: URL(fileURLWithPath: "/usr/bin/etcd"))
        running.withLock { $0[index] = process }
    }

    /// Kills member `index` (SIGKILL) and reaps it.
    func kill(_ index: Int) {
        let process = running.withLock { running in
            defer { running[index] = nil }
            return running[index]
        }
        process?.signal(SIGKILL)
        _ = process?.waitForExit(timeout: .seconds(10))
    }

    /// Stops every member (SIGKILL).
    func stopAll() { for index in members.indices { kill(index) } }

    /// The log of member `index` so far (for a failing test's message).
    func log(_ index: Int) -> String {
        running.withLock { $0[index] }.map { String(decoding: $0.errorSoFar.suffix(2000), as: UTF8.self) } ?? "(not running)"
    }

    /// Waits until every running member answers `endpoint health` (etcdctl), up to `timeout`.
    func waitUntilHealthy(timeout: Duration = .seconds(60)) throws {
        let deadline = ContinuousClock.now + timeout
        let live = members.indices.filter { index in running.withLock { $0[index] } != nil }
        while ContinuousClock.now < deadline {
            if live.allSatisfy({ isHealthy(members[$0].clientURL) }) { return }
            usleep(100_000)
        }
        throw EtcdClusterError(message: "etcd did not become healthy within \(timeout): \(live.map { log($0) }.joined(separator: "\n"))")
    }

    /// Whether `endpoint` answers as healthy (etcdctl endpoint health: it has a leader and serves a read).
    func isHealthy(_ endpoint: String) -> Bool {
        etcdctl(["--endpoints", endpoint, "--command-timeout", "2s", "endpoint", "health"]).status == 0
    }

    /// Runs etcdctl (API v3) against the cluster unless `arguments` name endpoints themselves.
    @discardableResult
    func etcdctl(_ arguments: [String], stdin: String? = nil) -> (status: Int32, stdout: String, stderr: String) {
        var withEndpoints = arguments.contains("--endpoints") ? arguments : ["--endpoints", endpoints] + arguments
        if let certificates {
            withEndpoints = ["--cacert", certificates.ca, "--cert", certificates.client, "--key", certificates.clientKey] + withEndpoints
        }
        guard let process = try? RunningHelper(
            withEndpoints, executable: URL(fileURLWithPath: "/usr/bin/etcdctl"), environment: ["ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"])
        else { return (-1, "", "etcdctl could not start") }
        if let stdin { process.send(Data(stdin.utf8)) }
        process.closeInput()
        return process.waitForExit()
    }

    /// The index of the member that is leader now, if one is.
    func leaderIndex() -> Int? {
        let result = etcdctl(["endpoint", "status", "--write-out", "json"])
        guard result.status == 0 || !result.stdout.isEmpty, let value = try? JSONValue(parsing: Array(result.stdout.utf8)),
            case .array(let statuses) = value
        else { return nil }
        for status in statuses {
            guard case .string(let endpoint)? = status["Endpoint"], let header = status["Status"]?["header"],
                let member = header["member_id"], let leader = status["Status"]?["leader"], member == leader
            else { continue }
            return members.firstIndex { $0.clientURL == endpoint }
        }
        return nil
    }

    /// A CA, a certificate for the members (127.0.0.1, server and client use: etcd's gateway
    /// dials itself with it) and one for a client, made with openssl.
    static func makeCertificates(in directory: TemporaryDirectory) throws -> Certificates {
        let script = """
            set -e
            cd "$1"
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca.key
            openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=statecoord-test-ca 2>/dev/null
            key server.key
            openssl req -new -key server.key -out server.csr -subj /CN=etcd 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            key client.key
            openssl req -new -key client.key -out client.csr -subj /CN=statecoord-client 2>/dev/null
            printf 'extendedKeyUsage=clientAuth\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
            """
        let process = try RunningHelper(["-c", script, "sh", directory.path], executable: URL(fileURLWithPath: "/bin/sh"))
        process.closeInput()
        let (status, _, stderr) = process.waitForExit()
        guard status == 0 else { throw EtcdClusterError(message: "openssl failed: \(stderr)") }
        return Certificates(
            ca: directory.file("ca.pem"), server: directory.file("server.pem"), serverKey: directory.file("server.key"),
            client: directory.file("client.pem"), clientKey: directory.file("client.key"))
    }
}

struct EtcdClusterError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
