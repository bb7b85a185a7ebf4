import ArgumentParser
import Foundation
import StateCoordinator
import ToolEtcd
import ToolProgress

/// Crash and stall harness: writers committing increments, a killer sending SIGKILL at random
/// instants and SIGSTOP/SIGCONT to lock holders, readers checking every snapshot; then a verdict.
@main
struct StateChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-chaos",
        abstract: "Kill and stall writers at random while readers check every version; exit 1 on any violation.",
        discussion: "Example: state-chaos --duration 60s --dir /tmp/chaos",
        subcommands: [Run.self, ChaosWorker.self],
        defaultSubcommand: Run.self)
}

extension StateChaos {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the harness (the default).")

        @Option(help: "How long to run: 20s, 2m, or seconds.") var duration = "20s"
        @Option(help: "The store's directory (created if missing; any store there is replaced).") var dir: String
        @Option(help: "Writer processes (Swift).") var writers = 3
        @Option(help: "Python writer processes (the statecoordinator package), beside the Swift ones.") var pythonWriters = 0
        @Option(help: "Combining writer processes (Swift, StateStore.apply: published for the lock holder to commit with its own), beside the others.")
        var combiningWriters = 0
        @Option(help: "Python combining writer processes (the statecoordinator package's Store.apply), beside the others.")
        var pythonCombiningWriters = 0
        @Option(help: "The directory holding the Python package's statecoordinator/ (default: Sources/python of this checkout).")
        var pythonPackage: String?
        @Option(help: "Reader processes (half inotify, half polling).") var readers = 4
        @Flag(
            help: "Run on etcd: a cluster of --etcd-members started in DIR/etcd on loopback, the store named chaos on it, one member killed and restarted every few seconds."
        )
        var etcd = false
        @Option(help: "Members of the --etcd cluster.") var etcdMembers = 3

        func run() async throws {
            guard let seconds = Self.seconds(duration) else { throw ValidationError("--duration must look like 20s, 2m or 30.") }
            guard writers >= 0, pythonWriters >= 0, combiningWriters >= 0, pythonCombiningWriters >= 0,
                writers + pythonWriters + combiningWriters + pythonCombiningWriters > 0
            else {
                throw ValidationError(
                    "--writers, --python-writers, --combining-writers and --python-combining-writers must not be negative, and at least one writer must run.")
            }
            guard !etcd || combiningWriters + pythonCombiningWriters == 0 else {
                throw ValidationError("--combining-writers, --python-combining-writers: combining is a protocol of stores in a directory.")
            }
            var package: String?
            if pythonWriters + pythonCombiningWriters > 0 {
                do {
                    package = try PythonWriter.packageDirectory(explicit: pythonPackage)
                    try PythonWriter.checkImport(from: package!)
                } catch let error as ChaosSetupError {
                    throw ValidationError(error.description)
                }
            }
            guard !etcd || pythonWriters == 0 else { throw ValidationError("--python-writers: the Python package opens stores in a directory only.") }
            guard etcdMembers >= 1, etcdMembers <= 7 else { throw ValidationError("--etcd-members must be from 1 to 7.") }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var cluster: LocalEtcdCluster?
            let store: StateStore<ChaosState>
            if etcd {
                try? FileManager.default.removeItem(atPath: dir + "/etcd")
                try FileManager.default.createDirectory(atPath: dir + "/etcd", withIntermediateDirectories: true)
                let started = try LocalEtcdCluster(size: etcdMembers, directory: dir + "/etcd", fsync: false)
                cluster = started
                store = try await StateStore<ChaosState>.create(
                    etcd: ChaosWorker.configuration(started.endpoints.joined(separator: ",")), name: ChaosWorker.etcdName,
                    initial: ChaosState(), force: true)
            } else {
                store = try await StateStore<ChaosState>.create(directory: dir, initial: ChaosState(), force: true)
            }
            let logs = URL(fileURLWithPath: dir).appendingPathComponent("chaos-logs")
            try? FileManager.default.removeItem(at: logs)
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)

            let fleet = try ChaosFleet(
                directory: dir, logs: logs.path, writers: writers, pythonWriters: pythonWriters, combiningWriters: combiningWriters,
                pythonCombiningWriters: pythonCombiningWriters, pythonPackage: package, readers: readers, cluster: cluster)
            let progress = ChaosProgress()
            let reporter = ProgressReporter(label: "state-chaos") { [store] in
                let started = progress.figures.withLock { $0 }
                let elapsed = Date().timeIntervalSince(started.since)
                let version = (try? store.read().version).map(String.init) ?? "?"
                let damage = store.verify().damage.count
                return ProgressStatus(
                    phase: "killing", fraction: min(1, elapsed / seconds),
                    detail: "\(started.kills) kills, \(version) commits, \(damage + started.readersGone) violations so far")
            }
            reporter.start()
            let kills = try fleet.rampage(for: seconds, progress: progress)
            reporter.stop()
            fleet.stopWriters()
            try fleet.restoreCluster()
            // One more commit: it must verify what the killed writers left and sweep their temp files.
            let final = try await store.update { $0.counter += 1 }
            let readerReports = fleet.finishReaders(waitingFor: final.version)
            let verdict = try ChaosVerdict(
                store: store, final: final, acknowledged: fleet.acknowledgedLines(), readers: readerReports, kills: kills,
                pythonWriters: pythonWriters, pythonCombiningWriters: pythonCombiningWriters, writerFailures: fleet.writerFailures,
                memberKills: cluster.map { _ in fleet.memberKills },
                combining: combiningWriters + pythonCombiningWriters > 0 ? try fleet.combiningLogs() : nil)
            print(verdict.summary)
            for problem in verdict.problems { FileHandle.standardError.write(Data("state-chaos: \(problem)\n".utf8)) }
            if !verdict.problems.isEmpty { throw ExitCode.failure }
        }

        static func seconds(_ text: String) -> Double? {
            if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1000 } }
            if text.hasSuffix("s") { return Double(text.dropLast()) }
            if text.hasSuffix("m") { return Double(text.dropLast()).map { $0 * 60 } }
            return Double(text)
        }
    }
}
