import ArgumentParser
import Foundation
import StateCoordinator

extension StateDemo {
    /// The first demo: writer processes incrementing one counter while this process watches.
    struct Counter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Writer processes increment one shared counter; a reader shows each version as it lands.",
            discussion: "Ends by checking that the counter equals the number of commits and that every writer's updates are all there.")

        @Option(help: "Writer processes to start.") var writers = 4
        @Option(help: "Commits per writer.") var commits = 250
        @Option(help: "Store directory (default: a new temporary directory).") var dir: String?

        func validate() throws {
            guard writers > 0, commits > 0 else { throw ValidationError("--writers and --commits must be positive.") }
        }

        func run() async throws {
            let directory = try dir ?? makeTemporaryDirectory()
            let store = try await StateStore<DemoState>.create(directory: directory, initial: DemoState(), force: true)
            print("store: \(store.stateFilePath)  (try: jq -n 'input | input' \(store.stateFilePath))")
            let watch = StateObservation().events(in: store)
            let processes = try (0..<writers).map { try startWriter(id: $0, directory: directory) }
            let total = UInt64(writers * commits)
            var shown = 0
            var previous: UInt64?
            loop: for await event in watch {
                switch event {
                case .snapshot(let snapshot):
                    shown += 1
                    let skipped = previous.map { snapshot.version - $0 - 1 } ?? 0
                    let lag = Date().timeIntervalSince(snapshot.committedAt) * 1000
                    print(String(
                        format: "v%-6llu counter=%-6lld by %@ (pid %d)  %.1f ms after commit%@",
                        snapshot.version, snapshot.state.counter, snapshot.writer.label, snapshot.writer.pid, lag,
                        skipped > 0 ? "  (\(skipped) coalesced)" : ""))
                    previous = snapshot.version
                    if snapshot.version >= total { break loop }
                case .problem(let error): print("problem: \(error)")
                default: break
                }
            }
            for process in processes { process.waitUntilExit() }
            let final = try await store.read()
            print("\(shown) versions shown, mode \(watch.mode), \(watch.statistics.missedEvents) missed notifications")
            let perWriterOK = (0..<writers).allSatisfy { final.state.perWriter["writer-\($0)"] == Int64(commits) }
            guard final.state.counter == Int64(total), final.version == total, perWriterOK,
                processes.allSatisfy({ $0.terminationStatus == 0 })
            else {
                print("LOST UPDATES: counter \(final.state.counter), version \(final.version), expected \(total); per writer \(final.state.perWriter)")
                throw ExitCode.failure
            }
            print("OK: \(writers) writers × \(commits) commits = \(total); counter \(final.state.counter); no update lost.")
        }

        private func startWriter(id: Int, directory: String) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = ["writer", "--dir", directory, "--id", "\(id)", "--commits", "\(commits)"]
            try process.run()
            return process
        }

        private func makeTemporaryDirectory() throws -> String {
            var template = Array((NSTemporaryDirectory() + "/state-demo-XXXXXX").utf8CString)
            guard let path = mkdtemp(&template) else { throw ValidationError("cannot create a temporary directory") }
            return String(cString: path)
        }
    }

    struct Writer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One writer process (started by the counter demo).", shouldDisplay: false)

        @Option var dir: String
        @Option var id: Int
        @Option var commits: Int

        func run() async throws {
            let label = "writer-\(id)"
            let store = try await StateStore<DemoState>(directory: dir, options: StateStoreOptions(label: label))
            for _ in 0..<commits {
                try await store.update { state in
                    state.counter += 1
                    state.perWriter[label, default: 0] += 1
                }
            }
        }
    }
}

/// The counter demo's shared state.
struct DemoState: Codable, Sendable {
    var counter: Int64 = 0
    var perWriter: [String: Int64] = [:]
}
