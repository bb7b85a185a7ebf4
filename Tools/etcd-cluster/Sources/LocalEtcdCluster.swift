import Foundation

/// An etcd cluster of `/usr/bin/etcd` processes (Debian's etcd-server) on loopback ports the
/// kernel picked a moment before, their data in a directory of the caller's: the server of
/// `state-bench --only etcd` (one member) and of `state-chaos --etcd` (three, killed and
/// restarted). Members are stopped (SIGKILL) when the value is dropped.
public final class LocalEtcdCluster: @unchecked Sendable {
    /// One member's name and URLs.
    public struct Member: Sendable {
        /// `m0`, `m1`, …: also its data directory's name.
        public let name: String
        /// Where clients connect (`http://127.0.0.1:PORT`).
        public let clientURL: String
        /// Where the other members connect.
        public let peerURL: String
    }

    /// The members, in the order they were started.
    public let members: [Member]
    private let directory: String
    private let fsync: Bool
    private let lock = NSLock()
    private var processes: [Process?]

    /// The members' client URLs.
    public var endpoints: [String] { members.map(\.clientURL) }

    /// Starts `size` members with their data under `directory` and waits until each answers.
    /// - Parameter fsync: false adds `--unsafe-no-fsync` (a harness that never cuts power).
    public init(size: Int, directory: String, fsync: Bool = true) throws {
        let ports = try Self.freeLoopbackPorts(2 * size)
        members = (0..<size).map { index in
            Member(name: "m\(index)", clientURL: "http://127.0.0.1:\(ports[2 * index])", peerURL: "http://127.0.0.1:\(ports[2 * index + 1])")
        }
        self.directory = directory
        self.fsync = fsync
        processes = Array(repeating: nil, count: size)
        for index in members.indices { try start(index) }
        for member in members { try waitUntilHealthy(member.clientURL) }
    }

    deinit { for index in members.indices { kill(index) } }

    /// Starts member `index` (again, after ``kill(_:)``: same data, same ports).
    public func start(_ index: Int) throws {
        let member = members[index]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", member.name, "--data-dir", "\(directory)/\(member.name)",
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ","),
            "--initial-cluster-token", "statecoord-tool-\(getpid())", "--initial-cluster-state", "new", "--log-level", "error",
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ] + (fsync ? [] : ["--unsafe-no-fsync"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.withLock { processes[index] = process }
    }

    /// Kills member `index` (SIGKILL) and reaps it; nothing when it is not running.
    public func kill(_ index: Int) {
        let process = lock.withLock { () -> Process? in
            defer { processes[index] = nil }
            return processes[index]
        }
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Whether member `index` runs.
    public func isRunning(_ index: Int) -> Bool { lock.withLock { processes[index]?.isRunning ?? false } }

    /// Waits (up to 30 s) until `endpoint` answers `etcdctl endpoint health`.
    public func waitUntilHealthy(_ endpoint: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
            check.arguments = ["--endpoints", endpoint, "--command-timeout", "2s", "endpoint", "health"]
            check.environment = ["ETCDCTL_API": "3"]
            check.standardOutput = FileHandle.nullDevice
            check.standardError = FileHandle.nullDevice
            try check.run()
            check.waitUntilExit()
            if check.terminationStatus == 0 { return }
            usleep(100_000)
        }
        throw LocalEtcdClusterError(description: "etcd at \(endpoint) did not become healthy within 30 s")
    }

    /// `count` TCP ports on 127.0.0.1 that were free a moment ago (the kernel picked them).
    public static func freeLoopbackPorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw LocalEtcdClusterError(description: "socket: errno \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            guard bound == 0 else { throw LocalEtcdClusterError(description: "bind: errno \(errno)") }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

/// A cluster that could not be started.
public struct LocalEtcdClusterError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
}
