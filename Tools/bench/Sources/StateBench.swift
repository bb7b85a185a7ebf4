import ArgumentParser
import Foundation
import Synchronization
import ToolProgress
@_spi(Benchmark) import StateCoordinator

/// The benchmark: every workload against its baseline, measured in the same run.
@main
struct StateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-bench",
        abstract: "Measure StateCoordinator against the C floor and other baselines, in one run.",
        discussion: "Run in release mode: swift run -c release state-bench [--quick]. Prints a Markdown table and writes the same rows as JSON.",
        subcommands: [Run.self, Worker.self],
        defaultSubcommand: Run.self)
}

extension StateBench {
    enum Workload: String, CaseIterable, ExpressibleByArgument {
        case commit, contention, group, propagation, size, hotpath, ack, sidecar, metrics, python, etcd, fleet
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the workloads (the default).")

        @Flag(help: "Fewer iterations: a smoke run in under a minute.") var quick = false
        @Option(help: "Where to write the rows as JSON.") var json = "state-bench-results.json"
        @Option(parsing: .upToNextOption, help: "Workloads to run (default: all).") var only: [Workload] = Workload.allCases
        @Option(parsing: .upToNextOption, help: "propagation, ack, python: reader counts to measure (default: 1 10, full run also 50).")
        var readers: [Int] = []
        @Option(help: ArgumentHelp("Also render the run's JSON as PNG charts into this directory (Tools/bench/plot.py, matplotlib).", valueName: "dir"))
        var plot: String?

        func run() async throws {
            var rows: [BenchRow] = []
            let progress = BenchProgress(workloads: only, quick: quick)
            let reporter = ProgressReporter(label: "state-bench") { progress.status() }
            let report: (BenchRow) -> Void = { row in
                rows.append(row)
                progress.noteRow()
                print(row.markdown)
            }
            print(machineDescription())
            print(BenchRow.header)
            reporter.start()
            defer { reporter.stop() }
            for workload in only {
                progress.begin(workload)
                switch workload {
                case .commit: try CommitCostWorkload(quick: quick).run(report: report)
                case .contention: try ContentionWorkload(quick: quick).run(report: report)
                case .group: try await GroupCommitWorkload(quick: quick).run(report: report)
                case .propagation: try PropagationWorkload(quick: quick, readerCounts: readers).run(report: report)
                case .size: try SizeScalingWorkload(quick: quick).run(report: report)
                case .hotpath: try HotPathWorkload(quick: quick).run(report: report)
                case .ack: try AcknowledgementWorkload(quick: quick, readerCounts: readers).run(report: report)
                case .sidecar: try SidecarWorkload(quick: quick).run(report: report)
                case .metrics: try MetricsCostWorkload(quick: quick).run(report: report)
                case .python: try PythonWorkload(quick: quick, readerCounts: readers).run(report: report)
                case .etcd: try EtcdWorkload(quick: quick).run(report: report)
                case .fleet: try FleetWorkload(quick: quick).run(report: report)
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(rows).write(to: URL(fileURLWithPath: json))
            reporter.stop()
            let missed = rows.filter { $0.met == false }
            print("\(rows.count) rows written to \(json); \(missed.count) targets missed")
            if let plot { try BenchPlot.render(json: json, into: plot) }
        }

        private func machineDescription() -> String {
            let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            let fileSystem = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8))?
                .split(separator: "\n").first { $0.split(separator: " ").dropFirst().first == "/" }?
                .split(separator: " ").dropFirst(2).first.map(String.init) ?? "?"
            return "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, kernel \(kernel), / on \(fileSystem), temp dir \(FileManager.default.temporaryDirectory.path); \(quick ? "quick" : "full") run \(Date())\n"
        }
    }

    /// Child-process roles used by the workloads.
    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A child process of a workload.", shouldDisplay: false)

        enum Role: String, ExpressibleByArgument { case incr, watch, hold, ack, mirror }

        @Argument var role: Role
        @Option var dir: String = ""
        @Option(help: "A store on these etcd endpoints (comma-separated) instead of --dir (incr, watch, ack); mirror: the source.") var etcd: String?
        @Option(help: "The store's name (with --etcd).") var name = "state"
        @Option var count = 0
        @Option var until: UInt64 = 0
        @Option(help: "hold: also report memory once this version is held.") var warmup: UInt64?
        @Flag var poll = false
        @Option(help: "incr: the commits' durability (for profiling a single writer).") var durability: Durability = .full
        @Flag(help: "watch: follow with a StateReader's callback instead of snapshots().") var reader = false
        @Flag(help: "incr: increment with a declarative mutation on a JSON store (StateStore.apply), combined with the other writers' while one holds the lock.")
        var combining = false

        func run() async throws {
            switch role {
            case .incr: try increment()
            case .watch: reader ? try await watchWithReader() : try await watch()
            case .hold: try await hold()
            case .ack: try await acknowledge()
            case .mirror: try await mirror()
            }
        }

        /// A registered reader "bench-<count>" that acknowledges each version it is handed, until
        /// a version after `until`; prints "ready" once registered and holding the first version.
        private func acknowledge() async throws {
            let store: ReadOnlyStateStore<BenchState>
            if let etcd {
                store = try await ReadOnlyStateStore<BenchState>(etcd: EtcdConfiguration(endpoints: etcd.split(separator: ",").map(String.init)), name: name)
            } else {
                store = try await ReadOnlyStateStore<BenchState>(directory: dir)
            }
            let watch = StateObservation(label: "bench-\(count)").events(in: store)
            var ready = false
            for await event in watch {
                guard case .snapshot(let snapshot) = event else { continue }
                watch.acknowledge(snapshot)
                if !ready {
                    ready = true
                    FileHandle.standardOutput.write(Data("ready\n".utf8))
                }
                // Alive until the version after the last measured one: a reader that exits is not waited for.
                if snapshot.version > until { break }
            }
        }

        /// Mirrors the store on etcd (`--etcd`) into `--dir`, publishing its registered readers;
        /// prints "started" once it follows.
        private func mirror() async throws {
            let source = try await ReadOnlyStateStore<JSONValue>(
                etcd: EtcdConfiguration(endpoints: (etcd ?? "").split(separator: ",").map(String.init)), name: name)
            try await StateMirror(source: source, directory: dir, name: name).run { event in
                if case .started = event { FileHandle.standardOutput.write(Data("started\n".utf8)) }
            }
        }

        /// Prints "start", each commit's latency ("l"), and "end", in monotonic nanoseconds.
        private func increment() throws {
            if combining { return try incrementCombining() }
            let store = try etcd.map { try StateStore<BenchState>(etcd: EtcdConfiguration(endpoints: [$0]), name: name) }
                ?? StateStore<BenchState>(directory: dir, options: StateStoreOptions(durability: durability))
            var latencies: [Int64] = []
            latencies.reserveCapacity(count)
            let start = Clock.monotonic()
            for _ in 0..<count {
                let before = Clock.monotonic()
                try store.update { $0.counter += 1 }
                latencies.append(Clock.monotonic() - before)
            }
            let end = Clock.monotonic()
            print("start \(start)\n" + latencies.map { "l \($0)" }.joined(separator: "\n") + "\nend \(end)")
        }

        /// `incr --combining`: the same loop with `apply(.increment)`, which publishes the increment
        /// for the lock holder to commit with its own while another process holds the lock.
        private func incrementCombining() throws {
            let store = try StateStore<JSONValue>(directory: dir, options: StateStoreOptions(durability: durability))
            let counter = try JSONPointer("/counter")
            var latencies: [Int64] = []
            latencies.reserveCapacity(count)
            let start = Clock.monotonic()
            for _ in 0..<count {
                let before = Clock.monotonic()
                try store.apply(.increment(counter, by: 1))
                latencies.append(Clock.monotonic() - before)
            }
            let end = Clock.monotonic()
            print("start \(start)\n" + latencies.map { "l \($0)" }.joined(separator: "\n") + "\nend \(end)")
        }

        /// Keeps a StateReader until it holds version `until`; prints "loaded <KiB>" and "ready" once
        /// it holds the first snapshot, "warm <KiB>" at version `warmup`, then "final <KiB>" and
        /// "reloads <n>".
        private func hold() async throws {
            let store = try await ReadOnlyStateStore<BenchState>(directory: dir)
            let reader = try await StateObservation(options: WatchOptions(consistencyCheckInterval: nil)).reader(in: store)
            print("loaded \(ReaderMemory.residentKiB())")
            FileHandle.standardOutput.write(Data("ready\n".utf8))
            if let warmup {
                while reader.current.version < warmup { try await Task.sleep(for: .milliseconds(5)) }
                print("warm \(ReaderMemory.residentKiB())")
            }
            while reader.current.version < until { try await Task.sleep(for: .milliseconds(5)) }
            print("final \(ReaderMemory.residentKiB())\nreloads \(reader.statistics.reloads)")
        }

        /// Like ``watch()``, timing each version when the StateReader's `current` began to return
        /// it, which is what a tick loop reading `current` sees. The reader has no callback (a
        /// tick loop needs none); the benchmark's observer, called right after the snapshot is
        /// stored, only appends the time.
        private func watchWithReader() async throws {
            let store = try await ReadOnlyStateStore<BenchState>(directory: dir)
            let seen = Mutex<[(UInt64, Int64)]>([])
            let done = AsyncStream<Void>.makeStream()
            let until = until
            let reader = try store.reader(options: WatchOptions(forcePolling: poll), observingStores: { snapshot in
                // Runs right after `current` began to return the snapshot.
                let held = Clock.realtime()
                seen.withLock { $0.append((snapshot.version, held)) }
                if snapshot.version >= until { done.continuation.finish() }
            })
            FileHandle.standardOutput.write(Data("ready\n".utf8))
            let cpuAtReady = Clock.processCPU()
            for await _ in done.stream {}
            let cpu = Clock.processCPU() - cpuAtReady
            reader.close()
            let lines = seen.withLock { $0.map { "\($0.0) \($0.1)" } } + ["cpu \(cpu)"]
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }

        /// Prints "ready" once following, then at the end "<version> <realtime ns>" per delivery and
        /// "cpu <ns>", the process's CPU time since it was ready.
        private func watch() async throws {
            let opened: ReadOnlyStateStore<BenchState>?
            if let etcd {
                opened = try await ReadOnlyStateStore<BenchState>(etcd: EtcdConfiguration(endpoints: [etcd]), name: name)
            } else {
                opened = try? await ReadOnlyStateStore<BenchState>(directory: dir)
            }
            guard let store = opened else { return }
            var seen: [(UInt64, Int64)] = []
            seen.reserveCapacity(Int(until) + 1)
            var cpuAtReady: Int64?
            for try await snapshot in StateObservation(options: WatchOptions(forcePolling: poll)).values(in: store) {
                seen.append((snapshot.version, Clock.realtime()))
                if cpuAtReady == nil {
                    FileHandle.standardOutput.write(Data("ready\n".utf8))
                    cpuAtReady = Clock.processCPU()
                }
                if snapshot.version >= until { break }
            }
            let cpu = Clock.processCPU() - (cpuAtReady ?? 0)
            let lines = seen.map { "\($0.0) \($0.1)" } + ["cpu \(cpu)"]
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
    }
}
extension Durability: ExpressibleByArgument {}
