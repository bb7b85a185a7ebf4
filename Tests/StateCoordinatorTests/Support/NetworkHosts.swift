import Foundation
import ToolEtcd

/// ``NamespaceHosts`` (Tools/etcd-cluster) with the tests' process runner: test hosts as network
/// namespaces, each process started on one in its namespace under the host's name.
final class NetworkHosts: Sendable {
    let hosts: NamespaceHosts

    static var available: Bool { NamespaceHosts.available }

    init(_ names: [String]) throws { hosts = try NamespaceHosts(names) }

    var names: [String] { hosts.names }
    var addresses: [String] { hosts.addresses }

    /// Starts `executable ARGUMENTS` on host `index`.
    func start(_ index: Int, _ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunningHelper {
        let (wrapper, wrapped) = hosts.command(index, executable, arguments)
        return try RunningHelper(wrapped, executable: wrapper, environment: environment)
    }

    /// Runs `executable ARGUMENTS` on host `index` to its end.
    func run(_ index: Int, _ executable: String, _ arguments: [String]) throws -> CLI.Result {
        let process = try start(index, executable, arguments)
        process.closeInput()
        let (status, stdout, stderr) = process.waitForExit()
        return CLI.Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// Cuts host `index` off the others, or puts it back.
    func setLink(_ index: Int, up: Bool) throws { try hosts.setLink(index, up: up) }
}
