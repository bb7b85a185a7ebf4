import Foundation
import Synchronization

@testable import StateCoordinator

/// The `StateCoordinatorTestHelper` executable, built beside the test bundle.
enum HelperProcess {
    static let url: URL = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? bundle.path)
        return exe.deletingLastPathComponent().appendingPathComponent("StateCoordinatorTestHelper")
    }()

    /// Runs the helper to completion; returns its exit status, stdout and stderr.
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let running = try RunningHelper(arguments)
        return running.waitForExit()
    }
}

/// A helper process the test can signal and whose output it collects line by line.
final class RunningHelper: Sendable {
    let process: Process
    private let output = Mutex<[String]>([])
    private let errorOutput = Mutex<Data>(Data())
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let finished = DispatchGroup()
    /// Broadcast for each line read and at the end of stdout (``waitForLine(timeout:where:)``).
    private let lineArrived = NSCondition()
    /// Set, under `lineArrived`, once stdout is at its end: no line will come.
    private nonisolated(unsafe) var outputEnded = false
    /// Signalled when the process exits (``waitForExit(timeout:)``).
    private let exited = DispatchSemaphore(value: 0)

    init(_ arguments: [String], executable: URL = HelperProcess.url, environment: [String: String]? = nil) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.terminationHandler = { [exited] _ in exited.signal() }
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        let stdout = stdoutPipe, stderr = stderrPipe
        // Each pipe is drained by a thread of its own: blocking reads on Dispatch's global queue
        // would hold its few threads (2 on a 2-core machine), and a third helper's output would
        // then wait, seconds at a time, for Dispatch to grow the pool.
        finished.enter()
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    self.lineArrived.lock()
                    self.output.withLock { $0.append(line) }
                    self.lineArrived.broadcast()
                    self.lineArrived.unlock()
                }
            }
            self.lineArrived.lock()
            self.outputEnded = true
            self.lineArrived.broadcast()
            self.lineArrived.unlock()
            self.finished.leave()
        }
        finished.enter()
        Thread.detachNewThread {
            while true {
                let chunk = stderr.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                self.errorOutput.withLock { $0.append(chunk) }
            }
            self.finished.leave()
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// What the process wrote to stderr so far.
    var errorSoFar: Data { errorOutput.withLock { $0 } }

    /// The complete lines written so far.
    var lines: [String] { output.withLock { $0 } }

    /// Waits until a line satisfies `predicate`, woken by each line read; false when stdout ends
    /// or the timeout passes first.
    func waitForLine(timeout: Duration = .seconds(30), where predicate: (String) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        lineArrived.lock()
        defer { lineArrived.unlock() }
        while true {
            if lines.contains(where: predicate) { return true }
            if outputEnded || !lineArrived.wait(until: deadline) { return lines.contains(where: predicate) }
        }
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Sends SIGSTOP and returns once the kernel says the process is stopped (`waitid` with
    /// `WSTOPPED | WNOWAIT`, which reaps nothing): a signal is delivered asynchronously, and the
    /// process may first finish a system call (a rename) that the test means to come after.
    func stop() {
        signal(SIGSTOP)
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WSTOPPED | WNOWAIT) == -1 && errno == EINTR {}
    }

    /// Writes to the helper's stdin.
    func send(_ data: Data) { stdinPipe.fileHandleForWriting.write(data) }

    /// Closes the helper's stdin (commands that run "until stdin closes" then finish).
    func closeInput() { try? stdinPipe.fileHandleForWriting.close() }

    /// Waits for exit, at most `timeout`; past it the process is killed (SIGKILL) and the result
    /// says so, so that a hung helper fails its test instead of stalling the suite.
    func waitForExit(timeout: Duration) -> (status: Int32, stdout: String, stderr: String, timedOut: Bool) {
        let timedOut = exited.wait(timeout: .now() + .nanoseconds(Int(clamping: timeout.saturatingNanoseconds))) == .timedOut
        if timedOut { signal(SIGKILL) } else { exited.signal() }  // for a later wait
        let (status, stdout, stderr) = waitForExit()
        return (status, stdout, stderr, timedOut)
    }

    /// Waits for exit and for all output.
    func waitForExit() -> (status: Int32, stdout: String, stderr: String) {
        process.waitUntilExit()
        finished.wait()
        let stdout = lines.map { $0 + "\n" }.joined()
        let stderr = String(decoding: errorOutput.withLock { $0 }, as: UTF8.self)
        return (process.terminationStatus, stdout, stderr)
    }
}
