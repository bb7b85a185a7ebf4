import ArgumentParser
import Foundation
import StateCoordinator

/// The processes the harness starts, kills and stops.
struct ChaosWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "A writer or reader process of the harness.", shouldDisplay: false)

    enum Role: String, ExpressibleByArgument { case write, read }

    @Argument var role: Role
    @Option var dir: String
    @Option(help: "Writers: where to append each acknowledged version.") var log: String?
    @Flag(help: "Readers: poll instead of inotify.") var poll = false

    func run() async throws {
        switch role {
        case .write: try write()
        case .read: await read()
        }
    }

    /// Increments the counter forever, appending "version counter" to the log after each
    /// acknowledged commit (one write(2) each, so a SIGKILL loses at most an unacknowledged line).
    private func write() throws {
        let store = try StateStore<ChaosState>(
            directory: dir, options: StateStoreOptions(lockTimeout: .seconds(60), label: "chaos-writer"))
        guard let log, let file = FileHandle(forWritingAtPath: log) else { throw ValidationError("--log must name a writable file") }
        file.seekToEndOfFile()
        while true {
            let updated = try store.updateWithResult { state -> Int64 in
                state.counter += 1
                return state.counter
            }
            file.write(Data("\(updated.snapshot.version) \(updated.value)\n".utf8))
        }
    }

    /// Follows the store, checking every snapshot, until stdin closes; then prints
    /// "last <version> torn <n> regressions <n> mismatches <n> mode <mode>".
    private func read() async {
        guard let store = try? await ReadOnlyStateStore<ChaosState>(directory: dir) else {
            print("last 0 torn 1 regressions 0 mismatches 0 mode none")
            return
        }
        let watch = StateObservation(options: WatchOptions(forcePolling: poll)).events(in: store)
        let verdict = ReaderVerdict()
        let follower = Task {
            for await event in watch { verdict.observe(event) }
        }
        while readLine() != nil {}
        follower.cancel()
        print(verdict.summary + " mode \(watch.mode)")
    }
}

/// What a reader saw: the last version, and every violation.
final class ReaderVerdict: @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt64?
    private var torn = 0, regressions = 0, mismatches = 0

    func observe(_ event: WatchEvent<ChaosState>) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .snapshot(let snapshot):
            if let last, snapshot.version <= last { regressions += 1 }
            if snapshot.state.counter != Int64(snapshot.version) { mismatches += 1 }
            last = snapshot.version
        case .problem: torn += 1
        default: break
        }
    }

    var summary: String {
        lock.lock()
        defer { lock.unlock() }
        return "last \(last ?? 0) torn \(torn) regressions \(regressions) mismatches \(mismatches)"
    }
}

/// The harness's state: a counter that every commit increments by exactly one.
struct ChaosState: Codable, Sendable {
    var counter: Int64 = 0
}
