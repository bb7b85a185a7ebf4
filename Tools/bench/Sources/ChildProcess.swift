import Foundation
import Synchronization

/// Runs a sibling executable (`state-floor`, or `state-bench worker …`) and collects its stdout lines.
final class ChildProcess: Sendable {
    private let process = Process()
    private let collected = Mutex<[Substring]>([])
    private let reader = DispatchGroup()

    /// The directory holding this executable and its siblings.
    static let binDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// - Parameter environment: the child's environment (default: ours).
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let output = Pipe()
        process.executableURL = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = output
        try process.run()
        reader.enter()
        DispatchQueue.global().async { [self] in
            var pending = Data()
            while case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                pending.append(chunk)
                guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                let complete = String(decoding: pending[...last], as: UTF8.self).split(separator: "\n")
                pending.removeSubrange(...last)
                collected.withLock { $0 += complete }
            }
            reader.leave()
        }
    }

    /// Waits for exit; throws when the child failed.
    func lines() throws -> [Substring] {
        process.waitUntilExit()
        reader.wait()
        guard process.terminationStatus == 0 else {
            throw BenchFailure("\(process.executableURL!.lastPathComponent) \(process.arguments!.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return collected.withLock { $0 }
    }

    /// Ends the child (SIGKILL) and reaps it.
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits until the child printed `line` (a reader's "ready").
    func waitFor(_ line: String, timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if collected.withLock({ $0.contains { $0 == line } }) { return }
            guard process.isRunning else { break }
            usleep(1_000)
        }
        throw BenchFailure("\(process.executableURL!.lastPathComponent) never printed \(line)")
    }
}

/// A benchmark run that cannot produce a valid figure (a lost update fails the run).
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
