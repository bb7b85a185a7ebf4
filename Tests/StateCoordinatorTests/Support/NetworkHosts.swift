import Foundation
import Synchronization

/// Test hosts on this machine: one network namespace each (`ip netns`), joined by veth pairs to a
/// bridge in the test's own namespace, with addresses of their own (10.2XX.X.0/24; nothing leaves
/// the machine). A process started on a host runs in its namespace and in a UTS namespace of its
/// own, whose host name is the host's: the library names hosts as a real fleet does.
/// Everything is removed when the value is dropped (processes first, by the caller).
final class NetworkHosts: Sendable {
    let names: [String]
    let addresses: [String]
    private let tag: String
    private let bridge: String

    /// Whether this process may make namespaces (root, with iproute2 and unshare).
    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    }

    /// Each set of hosts of a process gets names and a subnet of its own: a namespace's links
    /// may outlive it for a while (the kernel tears it down in the background).
    private static let sequence = Mutex(0)

    /// Hosts named `names`, each reachable from the others.
    init(_ names: [String]) throws {
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
        var script = """
            set -e
            ip link add name \(bridge) type bridge
            ip addr add \(subnet).1/24 dev \(bridge)
            ip link set \(bridge) up

            """
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
        let result = try Self.shell(script)
        guard result.status == 0 else {
            removeAll()
            throw EtcdClusterError(message: "could not make the test hosts: \(result.stderr)")
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
        _ = try? Self.shell(script)
    }

    /// Starts `executable ARGUMENTS` on host `index`.
    func start(_ index: Int, _ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunningHelper {
        try RunningHelper(
            ["netns", "exec", namespace(index), "/usr/bin/unshare", "--uts", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"", names[index], executable]
                + arguments,
            executable: URL(fileURLWithPath: "/usr/sbin/ip"), environment: environment)
    }

    /// Runs `executable ARGUMENTS` on host `index` to its end.
    func run(_ index: Int, _ executable: String, _ arguments: [String]) throws -> CLI.Result {
        let process = try start(index, executable, arguments)
        process.closeInput()
        let (status, stdout, stderr) = process.waitForExit()
        return CLI.Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// Cuts host `index` off the others (its link on the bridge down), or puts it back.
    func setLink(_ index: Int, up: Bool) throws {
        let result = try Self.shell("ip link set \(rootSide(index)) \(up ? "up" : "down")")
        guard result.status == 0 else { throw EtcdClusterError(message: "ip link set: \(result.stderr)") }
    }

    private static func shell(_ script: String) throws -> CLI.Result {
        let process = try RunningHelper(["-c", script], executable: URL(fileURLWithPath: "/bin/sh"))
        process.closeInput()
        let (status, stdout, stderr) = process.waitForExit()
        return CLI.Result(status: status, stdout: stdout, stderr: stderr)
    }
}
