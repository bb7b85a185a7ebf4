import Foundation
import StateCoordinator
import ToolEtcd

/// The harness's processes: writers (killed and restarted, each as the kind it was: Swift or
/// Python), readers (left alone), and the killer.
final class ChaosFleet {
    /// What a writer runs: the Swift library with a closure (`update`), the Python package's
    /// `update`, or a declarative mutation combined across processes (`apply`) by the Swift
    /// library or the Python package.
    enum WriterKind {
        case swift, python, combining, pythonCombining

        var logPrefix: String {
            switch self {
            case .swift: ""
            case .python: "python-"
            case .combining: "combining-"
            case .pythonCombining: "combining-python-"
            }
        }

        var python: Bool { self == .python || self == .pythonCombining }
    }

    /// A writer process and what it runs.
    private struct Writer {
        let process: Process
        let kind: WriterKind
        let log: String

        var python: Bool { kind.python }

        /// Whether it has acknowledged a commit: a Python writer takes about 50 ms to start,
        /// longer than the killer's mean interval, so it is only killed once it is committing.
        var committing: Bool {
            !python || ((try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0) > 0
        }
    }

    private let directory: String
    private let logs: String
    private let pythonPackage: String?
    /// The etcd endpoints of a store on etcd (comma-separated), and the cluster whose members the
    /// rampage kills and restarts; nil for a store in `directory`.
    private let etcd: String?
    private let cluster: LocalEtcdCluster?
    private var writers: [Writer] = []
    /// Writers that ended without being killed (an error, a crash): each one is a violation.
    private(set) var writerFailures: [String] = []
    private var readers: [(process: Process, input: Pipe, output: Pipe)] = []
    private var writerCount = 0
    /// Whether some writers combine: readers then check the combining writers' counters instead
    /// of the counter against the version.
    private let combining: Bool
    private var generator = SystemRandomNumberGenerator()

    private static let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

    /// Starts `writers` Swift writers, `pythonWriters` Python writers (`pythonPackage` is the
    /// directory holding `statecoordinator`, required when there are any) and `readers` readers.
    init(
        directory: String, logs: String, writers: Int, pythonWriters: Int = 0, combiningWriters: Int = 0, pythonCombiningWriters: Int = 0,
        pythonPackage: String? = nil, readers: Int, cluster: LocalEtcdCluster? = nil
    ) throws {
        self.directory = directory
        self.logs = logs
        self.pythonPackage = pythonPackage
        self.cluster = cluster
        etcd = cluster.map { $0.endpoints.joined(separator: ",") }
        combining = combiningWriters + pythonCombiningWriters > 0
        for _ in 0..<writers { self.writers.append(try startWriter(.swift)) }
        for _ in 0..<pythonWriters { self.writers.append(try startWriter(.python)) }
        for _ in 0..<combiningWriters { self.writers.append(try startWriter(.combining)) }
        for _ in 0..<pythonCombiningWriters { self.writers.append(try startWriter(.pythonCombining)) }
        for index in 0..<readers { self.readers.append(try startReader(poll: index % 2 == 1)) }
    }

    private func startWriter(_ kind: WriterKind) throws -> Writer {
        writerCount += 1
        let log = "\(logs)/\(kind.logPrefix)writer-\(writerCount).log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log])
        }
        let process = Process()
        _ = FileManager.default.createFile(atPath: log + ".stderr", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log + ".stderr")
        if kind.python, let pythonPackage {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", kind == .python ? PythonWriter.program : PythonWriter.combiningProgram, directory, log]
            process.environment = PythonWriter.environment(package: pythonPackage)
        } else {
            process.executableURL = Self.executable
            process.arguments =
                ["worker", "write", "--dir", directory, "--log", log] + (etcd.map { ["--etcd", $0] } ?? []) + (kind == .combining ? ["--combining"] : [])
        }
        try process.run()
        return Writer(process: process, kind: kind, log: log)
    }

    private func startReader(poll: Bool) throws -> (process: Process, input: Pipe, output: Pipe) {
        let process = Process()
        let input = Pipe(), output = Pipe()
        process.executableURL = Self.executable
        process.arguments =
            ["worker", "read", "--dir", directory] + (poll ? ["--poll"] : []) + (etcd.map { ["--etcd", $0] } ?? []) + (combining ? ["--combining"] : [])
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        return (process, input, output)
    }

    /// Until the time is up: every 2–30 ms, SIGKILL a random writer (and start a new one), or
    /// stop the lock holder for 5–100 ms. Returns the number of SIGKILLs sent, and how many of
    /// them went to Python writers.
    ///
    /// On etcd, also: every 3–8 s a random member is killed (SIGKILL), and started again 1–3 s later.
    func rampage(for seconds: Double, progress: ChaosProgress) throws -> (kills: Int, pythonKills: Int) {
        let deadline = Date().addingTimeInterval(seconds)
        var kills = 0, pythonKills = 0
        var member = MemberRampage()
        progress.figures.withLock { $0.since = Date() }
        while Date() < deadline {
            if let cluster { try member.step(cluster, generator: &generator) }
            let gone = readers.filter { !$0.process.isRunning }.count
            progress.figures.withLock { figures in
                figures.kills = kills
                figures.readersGone = gone
            }
            usleep(UInt32.random(in: 2_000...30_000, using: &generator))
            for index in writers.indices where !writers[index].process.isRunning {
                let gone = writers[index]
                let errors = (try? String(contentsOfFile: gone.log + ".stderr", encoding: .utf8)) ?? ""
                writerFailures.append(
                    "a \(gone.python ? "Python" : "Swift") writer exited by itself (status \(gone.process.terminationStatus)): "
                        + (errors.split(separator: "\n").last.map(String.init) ?? "no error output"))
                writers[index] = try startWriter(gone.kind)
            }
            if Int.random(in: 0..<10, using: &generator) < 8 {
                let index = Int.random(in: 0..<writers.count, using: &generator)
                let victim = writers[index]
                guard victim.committing else { continue }
                kill(victim.process.processIdentifier, SIGKILL)
                victim.process.waitUntilExit()
                kills += 1
                if victim.python { pythonKills += 1 }
                writers[index] = try startWriter(victim.kind)
            } else if let holder = lockHolder() {
                kill(holder, SIGSTOP)
                usleep(UInt32.random(in: 5_000...100_000, using: &generator))
                kill(holder, SIGCONT)
            }
        }
        memberKills = member.kills
        return (kills, pythonKills)
    }

    /// The writer holding the lock now, from /proc/locks; on etcd (no lock), a random writer,
    /// stopped wherever it is (in a transaction, waiting for its answer).
    private func lockHolder() -> pid_t? {
        if etcd != nil { return writers.randomElement(using: &generator)?.process.processIdentifier }
        guard let store = try? ReadOnlyStateStore<ChaosState>(directory: directory),
            let holder = try? store.lockHolder(), writers.contains(where: { $0.process.processIdentifier == holder.pid })
        else { return nil }
        return holder.pid
    }

    /// Members killed by the rampage, and every member running again (after the rampage).
    private(set) var memberKills = 0

    /// Starts every member the rampage left down and waits until each answers.
    func restoreCluster() throws {
        guard let cluster else { return }
        for index in cluster.members.indices where !cluster.isRunning(index) { try cluster.start(index) }
        for endpoint in cluster.endpoints { try cluster.waitUntilHealthy(endpoint) }
    }

    func stopWriters() {
        for writer in writers {
            kill(writer.process.processIdentifier, SIGKILL)
            writer.process.waitUntilExit()
        }
    }

    /// Waits (up to 3 s: beyond the 1 s consistency check and the 100 ms poll) for every reader to
    /// report, then collects "last … torn … regressions … mismatches … mode …" from each.
    func finishReaders(waitingFor version: UInt64) -> [String] {
        usleep(1_500_000)
        return readers.map { reader in
            try? reader.input.fileHandleForWriting.close()
            let data = reader.output.fileHandleForReading.readDataToEndOfFile()
            reader.process.waitUntilExit()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Each combining writer's lines ("c KEY N VERSION" per acknowledged update, "unknown KEY N"
    /// after an outcome it could not be told, "violation …"), one list per writer process, and
    /// whether that writer ran the Python package.
    func combiningLogs() throws -> [(lines: [Substring], python: Bool)] {
        try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasPrefix("combining-") && $0.hasSuffix(".log") }.map { name in
            (try String(contentsOfFile: "\(logs)/\(name)", encoding: .utf8).split(separator: "\n"),
             name.hasPrefix(WriterKind.pythonCombining.logPrefix))
        }
    }

    /// Every "version counter" line the writers acknowledged, and whether a Python writer did.
    func acknowledgedLines() throws -> [(line: Substring, python: Bool)] {
        try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasSuffix(".log") }.flatMap { name in
            try String(contentsOfFile: "\(logs)/\(name)", encoding: .utf8).split(separator: "\n")
                .map { (line: $0, python: name.hasPrefix("python-")) }
        }
    }
}
