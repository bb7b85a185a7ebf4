import Foundation
import Synchronization

/// Test hosts on this machine: one network namespace each (`ip netns`), joined by veth pairs to a
/// bridge in the caller's namespace, with addresses of their own in a private /24 (nothing
/// leaves the machine). A command run on a host runs in its namespace and in a UTS namespace of
/// its own whose host name is the host's, so that the library names hosts as a real fleet does.
/// Needs root, iproute2 and util-linux's `unshare`. Removed when the value is dropped (the
/// caller stops its processes first).
///
/// Used by the fleet tests and `state-bench --only fleet`: three hosts, an etcd member on each.
public final class NamespaceHosts: Sendable {
    /// The hosts' names (also their host names).
    public let names: [String]
    /// Each host's address.
    public let addresses: [String]
    private let tag: String
    private let bridge: String

    /// Each set of hosts of a process gets names and a subnet of its own: a namespace's links
    /// may outlive it for a moment (the kernel tears it down in the background).
    private static let sequence = Mutex(0)

    /// Whether this process can make hosts (root, with iproute2 and unshare).
    public static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    }

    /// Makes hosts named `names` (each at most 15 bytes), each reachable from the others and from here.
    public init(_ names: [String]) throws {
        self.names = names
        let serial = Self.sequence.withLock { value -> Int in
            value += 1
            return value
        }
        let id = (Int(getpid()) % 1000) * 10 + serial % 10
        tag = "sc\(id)"
        bridge = "scbr\(id)"
        let subnet = "10.\(200 + serial % 50).\(Int(getpid()) % 250)"
        addresses = names.indices.map { "\(subnet).\(11 + $0)" }
        var script = "set -e\nip link add name \(bridge) type bridge\nip addr add \(subnet).1/24 dev \(bridge)\nip link set \(bridge) up\n"
        for index in names.indices {
            script += """
                ip netns add \(namespace(index))
                ip link add \(rootSide(index)) type veth peer name eth0 netns \(namespace(index))
                ip link set \(rootSide(index)) master \(bridge) up
                ip -n \(namespace(index)) addr add \(addresses[index])/24 dev eth0
                ip -n \(namespace(index)) link set eth0 up
                ip -n \(namespace(index)) link set lo up

                """
        }
        let (status, error) = Self.shell(script)
        guard status == 0 else {
            removeAll()
            throw LocalEtcdClusterError(description: "could not make the test hosts (root and iproute2 needed): \(error)")
        }
    }

    deinit { removeAll() }

    private func namespace(_ index: Int) -> String { "\(tag)-\(names[index])" }
    private func rootSide(_ index: Int) -> String { "\(tag)v\(index)" }

    private func removeAll() {
        var script = ""
        // The root side of each pair first: the pair goes with it, whenever the namespace goes.
        for index in names.indices { script += "ip link del \(rootSide(index)) 2>/dev/null\nip netns del \(namespace(index)) 2>/dev/null\n" }
        script += "ip link del \(bridge) 2>/dev/null\ntrue\n"
        _ = Self.shell(script)
    }

    /// The executable and arguments that run `executable ARGUMENTS` on host `index` (for the
    /// caller's own process runner). The process keeps the caller's pid: each wrapper execs.
    public func command(_ index: Int, _ executable: String, _ arguments: [String]) -> (executable: URL, arguments: [String]) {
        (
            URL(fileURLWithPath: "/usr/sbin/ip"),
            ["netns", "exec", namespace(index), "/usr/bin/unshare", "--uts", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"", names[index], executable]
                + arguments
        )
    }

    /// Cuts host `index` off the others (its link on the bridge down), or puts it back.
    public func setLink(_ index: Int, up: Bool) throws {
        let (status, error) = Self.shell("ip link set \(rootSide(index)) \(up ? "up" : "down")")
        guard status == 0 else { throw LocalEtcdClusterError(description: "ip link set: \(error)") }
    }

    /// The arguments of an etcd member on host `index` of a cluster of all hosts (client port
    /// 2379, peer port 2380 on the host's address), its data in `dataDirectory`. With
    /// `--pre-vote` (the default from etcd 3.5 on; off in Debian's 3.4): a member back from a
    /// partition does not depose the leader, so a host's link coming back costs no election.
    public func etcdMemberArguments(_ index: Int, dataDirectory: String, fsync: Bool) -> [String] {
        let address = addresses[index]
        let cluster = addresses.enumerated().map { "m\($0.offset)=http://\($0.element):2380" }.joined(separator: ",")
        return [
            "--name", "m\(index)", "--data-dir", dataDirectory,
            "--listen-client-urls", "http://\(address):2379", "--advertise-client-urls", "http://\(address):2379",
            "--listen-peer-urls", "http://\(address):2380", "--initial-advertise-peer-urls", "http://\(address):2380",
            "--initial-cluster", cluster, "--initial-cluster-token", "\(tag)-fleet", "--initial-cluster-state", "new",
            "--log-level", "warn", "--heartbeat-interval", "100", "--election-timeout", "1000", "--pre-vote",
        ] + (fsync ? [] : ["--unsafe-no-fsync"])
    }

    /// The members' client URLs.
    public var etcdEndpoints: [String] { addresses.map { "http://\($0):2379" } }

    private static func shell(_ script: String) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let error = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: error, as: UTF8.self))
    }
}
