import Foundation
import StateCoordinator
import Synchronization

/// The scene's processes: the bots (started, killed, restarted), the sidecar, and the operator's
/// statectl commands, all from the release binaries beside this one and the Python package of
/// this checkout.
final class SceneCast {
    /// A bot of the scene.
    struct Bot {
        let label: String
        let python: Bool
        var process: Process
        var kills = 0
        /// Where the bot appends its trade count after each trade it was told was committed.
        let log: String
    }

    let store: String
    let logs: String
    /// Every child started, for an interrupted scene to stop from its signal handler's thread.
    let started = ScenePIDs()
    private(set) var bots: [Bot] = []
    private(set) var sidecar: Process?

    static let binDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    private static let demoDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let pythonBot = demoDirectory.appendingPathComponent("bots/python_bot.py").path
    static let pythonPackage = demoDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/python").path

    init(store: String, logs: String) {
        self.store = store
        self.logs = logs
    }

    /// Checks that statectl, state-sidecar, python3 and the package are where the scene needs them.
    static func checkPrerequisites() throws {
        for tool in ["statectl", "state-sidecar"] where !FileManager.default.isExecutableFile(atPath: binDirectory.appendingPathComponent(tool).path) {
            throw SceneFailure(
                "\(tool) is not built beside state-demo in \(binDirectory.path): run Tools/setup/run demo, or swift build -c release --product \(tool)")
        }
        guard FileManager.default.fileExists(atPath: pythonPackage + "/statecoordinator/__init__.py"),
            FileManager.default.fileExists(atPath: pythonBot)
        else {
            throw SceneFailure("the Python package (\(pythonPackage)) or the bot (\(pythonBot)) is missing: run the demo from the checkout it was built in")
        }
        let check = try run("/usr/bin/env", ["python3", "-c", "import statecoordinator, jsonschema"], environment: pythonEnvironment)
        guard check.status == 0 else {
            throw SceneFailure("python3 cannot import the package or jsonschema (Tools/setup/run demo installs it): \(check.errors)")
        }
    }

    static var pythonEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = [pythonPackage, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        return environment
    }

    // MARK: bots

    func startBot(label: String, python: Bool) throws {
        let bot = Bot(label: label, python: python, process: try launchBot(label: label, python: python), log: "\(logs)/\(label).trades")
        bots.append(bot)
    }

    private func launchBot(label: String, python: Bool) throws -> Process {
        let process = Process()
        let log = "\(logs)/\(label).trades"
        if python {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", Self.pythonBot, store, label, log]
            process.environment = Self.pythonEnvironment
        } else {
            process.executableURL = Self.binDirectory.appendingPathComponent("state-demo")
            process.arguments = ["bot", "--dir", store, "--label", label, "--log", log]
        }
        // Never the scene's own stdout: a child holding it would keep a pipe reading the scene open.
        let output = try Self.appending(to: "\(logs)/\(label).stderr")
        process.standardOutput = output
        process.standardError = output
        try process.run()
        started.add(process.processIdentifier)
        return process
    }

    /// SIGKILL, then the same bot started again under the same label.
    func kill(_ index: Int) {
        Glibc.kill(bots[index].process.processIdentifier, SIGKILL)
        bots[index].process.waitUntilExit()
        bots[index].kills += 1
    }

    func restart(_ index: Int) throws {
        bots[index].process = try launchBot(label: bots[index].label, python: bots[index].python)
    }

    /// The bots that exited by themselves, with their stderr's last line.
    func failedBots() -> [String] {
        bots.filter { !$0.process.isRunning }.map { bot in
            let errors = (try? String(contentsOfFile: "\(logs)/\(bot.label).stderr", encoding: .utf8)) ?? ""
            return "\(bot.label) exited with \(bot.process.terminationStatus): \(errors.split(separator: "\n").last ?? "")"
        }
    }

    /// SIGTERM to every bot (they close their readers, removing their registry entries); SIGKILL
    /// to one still running 3 s later.
    func stopBots() {
        for bot in bots where bot.process.isRunning { bot.process.terminate() }
        let deadline = Date().addingTimeInterval(3)
        while bots.contains(where: \.process.isRunning) && Date() < deadline { usleep(10_000) }
        for bot in bots where bot.process.isRunning {
            FileHandle.standardError.write(Data("state-demo: \(bot.label) ignored SIGTERM for 3 s: SIGKILL\n".utf8))
            Glibc.kill(bot.process.processIdentifier, SIGKILL)
        }
        for bot in bots { bot.process.waitUntilExit() }
    }

    /// The trade counts a bot logged (each one sent as an order after its commit returned).
    func loggedTrades(_ bot: Bot) -> [Int] {
        ((try? String(contentsOfFile: bot.log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) }
    }

    // MARK: the sidecar

    /// Starts `state-sidecar` on a free loopback port; returns its page's URL once it listens.
    /// Its stderr goes to a file, not a pipe, so that it can outlive the scene (`--keep`).
    func startSidecar() throws -> String {
        let log = "\(logs)/sidecar.stderr"
        let process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent("state-sidecar")
        process.arguments = ["--dir", store, "--listen", "127.0.0.1:0"]
        // Its own file for both: with --keep it outlives the scene, and must not hold the
        // scene's stdout (whoever reads it would wait for it to end).
        let output = try Self.appending(to: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        started.add(process.processIdentifier)
        sidecar = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && process.isRunning {
            let seen = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let match = seen.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/) { return "http://127.0.0.1:\(match.1)/" }
            usleep(20_000)
        }
        process.terminate()
        throw SceneFailure("state-sidecar did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    func stopSidecar() {
        guard let sidecar, sidecar.isRunning else { return }
        sidecar.terminate()
        sidecar.waitUntilExit()
    }

    // MARK: processes

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
        var seconds: Double
    }

    /// Runs a process to its end, collecting its output.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let started = Date()
        try process.run()
        let errorData = Mutex(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        group.wait()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData.withLock { $0 }, as: UTF8.self), seconds: Date().timeIntervalSince(started))
    }

    /// `statectl --dir STORE ARGUMENTS…`
    func statectl(_ arguments: [String]) throws -> Outcome {
        try Self.run(Self.binDirectory.appendingPathComponent("statectl").path, ["--dir", store] + arguments)
    }

    /// `path` opened for appending (created if missing: a restarted bot adds to its log).
    private static func appending(to path: String) throws -> FileHandle {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SceneFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}

/// The pids of the scene's children, shared with the signal handler.
final class ScenePIDs: Sendable {
    private let pids = Mutex<[pid_t]>([])

    func add(_ pid: pid_t) { pids.withLock { $0.append(pid) } }

    /// SIGKILL to every child still running.
    func killAll() {
        for pid in pids.withLock({ $0 }) where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
    }
}

/// Why the scene stopped, or what it found wrong.
struct SceneFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
