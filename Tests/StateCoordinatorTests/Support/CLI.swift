import Foundation

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
