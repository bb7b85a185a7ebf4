import Foundation

/// `Etcd/etcd_raw.py`, the raw client, with its stubs generated from the project's proto
/// (`Tools/etcd-proto/etcd-v3-subset.proto`, by grpcio-tools) into a directory of its own.
final class RawEtcdClient {
    private let stubs: BenchDirectory
    private let script: String

    init() throws {
        let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        script = tools.appendingPathComponent("bench/Etcd/etcd_raw.py").path
        stubs = try BenchDirectory()
        let proto = tools.appendingPathComponent("etcd-proto")
        let generate = try ChildProcess(
            "/usr/bin/env",
            ["python3", "-m", "grpc_tools.protoc", "-I", proto.path, "--python_out=\(stubs.path)", "--grpc_python_out=\(stubs.path)",
             proto.appendingPathComponent("etcd-v3-subset.proto").path])
        _ = try generate.lines()
    }

    func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess("/usr/bin/env", ["python3", script, stubs.path] + arguments)
    }
}
