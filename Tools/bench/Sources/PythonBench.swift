import Foundation

/// The Python side of the benchmark: `Tools/bench/Python/bench_python.py` run by `python3` with
/// the package of this checkout (`Sources/python`) first on its import path.
enum PythonBench {
    private static let benchDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let script = benchDirectory.appendingPathComponent("Python/bench_python.py").path
    static let package = benchDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/python").path

    /// `python3 bench_python.py ARGUMENTS…`, its stdout collected.
    static func start(_ arguments: [String]) throws -> ChildProcess {
        guard FileManager.default.fileExists(atPath: package + "/statecoordinator/__init__.py") else {
            throw BenchFailure("the Python package is not at \(package): run state-bench from the checkout it was built in")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = [package, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        return try ChildProcess("/usr/bin/env", ["python3", script] + arguments, environment: environment)
    }
}
