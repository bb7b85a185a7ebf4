import Foundation
import Testing

/// Runs the built `statectl` as a user would and returns what it printed and its exit status.
struct CLI {
    static let url = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("statectl")

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
        /// stderr holds exactly one line.
        var oneDiagnosticLine: Bool { stderr.hasSuffix("\n") && stderr.dropLast().split(separator: "\n").count == 1 }
    }

    let directory: String

    /// `statectl --dir DIRECTORY ARGS…`, with `stdin` as its input.
    func callAsFunction(_ arguments: String..., stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try run(["--dir", directory] + arguments, stdin: stdin.map { Data($0.utf8) }, environment: environment)
    }

    /// `statectl ARGS…` exactly as given.
    func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        let process = try RunningHelper(arguments, executable: Self.url, environment: env)
        if let stdin { process.send(stdin) }
        process.closeInput()
        let (status, stdout, stderr) = process.waitForExit()
        return Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// Runs a shell command line with `statectl` on the PATH (for raw bytes and pipelines).
    func shell(_ script: String, environment: [String: String] = [:]) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = Self.url.deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["STATECTL_DIR"] = directory
        env.merge(environment) { _, new in new }
        let process = try RunningHelper(["-c", script], executable: URL(fileURLWithPath: "/bin/sh"), environment: env)
        process.closeInput()
        let (status, stdout, stderr) = process.waitForExit()
        return Result(status: status, stdout: stdout, stderr: stderr)
    }
}

/// Golden CLI tests: a run's exit status, stdout and stderr compared exactly with
/// `Golden/NAME.txt`, after the given substitutions (a temporary directory's path becomes
/// `$DIR`, a pid `$PID`). Run the tests with `STATECOORDINATOR_RECORD_GOLDEN=1` to write the files
/// instead, then read the diff before committing it.
func expectGolden(
    _ result: CLI.Result, _ name: String, replacing substitutions: [(String, String)] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var text = "exit \(result.status)\n--- stdout\n\(result.stdout)--- stderr\n\(result.stderr)"
    for (from, to) in substitutions where !from.isEmpty { text = text.replacingOccurrences(of: from, with: to) }
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden").appendingPathComponent(name + ".txt")
    if ProcessInfo.processInfo.environment["STATECOORDINATOR_RECORD_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(text.utf8).write(to: file)
        return
    }
    let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? "(no golden file \(file.lastPathComponent))"
    #expect(text == expected, "golden \(name)", sourceLocation: sourceLocation)
}
