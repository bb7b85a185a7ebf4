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
    @Option(help: "The store on these etcd endpoints (comma-separated), named chaos, instead of --dir.") var etcd: String?

    /// The store's name on etcd.
    static let etcdName = "chaos"

    static func configuration(_ endpoints: String) throws -> EtcdConfiguration {
        try EtcdConfiguration(
            endpoints: endpoints.split(separator: ",").map(String.init), requestTimeout: .seconds(2), watchIdleTimeout: .seconds(3))
    }

    func run() async throws {
        switch role {
        case .write: try write()
        case .read: await read()
        }
    }

    /// Increments the counter forever, appending "version counter" to the log after each
    /// acknowledged commit (one write(2) each, so a SIGKILL loses at most an unacknowledged line).
    ///
    /// On etcd, a commit that fails while a member is down (no member answered, or its answer was
    /// lost and its outcome is unknown) is logged as "error CODE" and the writer goes on: the
    /// verdict's checks hold whatever such a commit did.
    private func write() throws {
        let options = StateStoreOptions(lockTimeout: .seconds(60), label: "chaos-writer")
        guard let log, let file = FileHandle(forWritingAtPath: log) else { throw ValidationError("--log must name a writable file") }
        file.seekToEndOfFile()
        let store =
            try etcd.map { endpoints in
                try Self.retryingWhileUnavailable(log: file) { try StateStore<ChaosState>(etcd: Self.configuration(endpoints), name: Self.etcdName, options: options) }
            } ?? StateStore<ChaosState>(directory: dir, options: options)
        var sequence = 0
        while true {
            sequence += 1
            // Each update leaves its token in the state's last tokens: one applied twice (a lost
            // answer sent again) shows as a token twice there, to readers and to the verdict.
            let token = "\(getpid())-\(sequence)"
            do {
                let updated = try store.updateWithResult { state -> Int64 in
                    state.counter += 1
                    state.recent = Array(((state.recent ?? []) + [token]).suffix(ChaosState.recentTokens))
                    return state.counter
                }
                file.write(Data("\(updated.snapshot.version) \(updated.value)\n".utf8))
            } catch let error as StateStoreError where etcd != nil && (error.code == .unavailable || error.outcome == .unknown) {
                file.write(Data("error \(error.code.description.replacingOccurrences(of: " ", with: "-"))\n".utf8))
                usleep(20_000)
            }
        }
    }

    /// Opens a store on etcd, again while no member answers (a member killed during an election
    /// can leave none for longer than a request's timeout), logging each failure as "error CODE".
    private static func retryingWhileUnavailable<T>(log: FileHandle, _ open: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                return try open()
            } catch let error as StateStoreError where error.code == .unavailable && Date() < deadline {
                log.write(Data("error \(error.code.description.replacingOccurrences(of: " ", with: "-"))\n".utf8))
                usleep(100_000)
            }
        }
    }

    /// A reader's store on etcd, opened again while no member answers (for up to a minute), off
    /// the calling thread: nil when it cannot be opened.
    private static func openReadOnly(_ endpoints: String) async -> ReadOnlyStateStore<ChaosState>? {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                return try await ReadOnlyStateStore<ChaosState>(etcd: configuration(endpoints), name: etcdName)
            } catch let error as StateStoreError where error.code == .unavailable && Date() < deadline {
                try? await Task.sleep(for: .milliseconds(100))
            } catch {
                return nil
            }
        }
    }

    /// Follows the store, checking every snapshot, until stdin closes; then prints
    /// "last <version> torn <n> regressions <n> mismatches <n> mode <mode>".
    private func read() async {
        let opened: ReadOnlyStateStore<ChaosState>?
        if let etcd {
            opened = await Self.openReadOnly(etcd)
        } else {
            opened = try? await ReadOnlyStateStore<ChaosState>(directory: dir)
        }
        guard let store = opened else {
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
    private var torn = 0, regressions = 0, mismatches = 0, doubled = 0

    func observe(_ event: WatchEvent<ChaosState>) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .snapshot(let snapshot):
            if let last, snapshot.version <= last { regressions += 1 }
            if snapshot.state.counter != Int64(snapshot.version) { mismatches += 1 }
            if let recent = snapshot.state.recent, Set(recent).count != recent.count { doubled += 1 }
            last = snapshot.version
        // An etcd member that does not answer is an outage, not a torn state.
        case .problem(let error) where error.code == .unavailable: break
        case .problem: torn += 1
        default: break
        }
    }

    var summary: String {
        lock.lock()
        defer { lock.unlock() }
        return "last \(last ?? 0) torn \(torn) regressions \(regressions) mismatches \(mismatches) doubled \(doubled)"
    }
}

/// The harness's state: a counter that every commit increments by exactly one, and the tokens
/// of the last updates applied (Swift writers': one per update, so that an update applied twice
/// is seen; the Python writers leave it as it is).
struct ChaosState: Codable, Sendable {
    var counter: Int64 = 0
    var recent: [String]? = nil

    /// How many tokens the state keeps: a lost answer's second application would come within a
    /// few versions of the first.
    static let recentTokens = 64
}
