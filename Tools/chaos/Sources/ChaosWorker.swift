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
    @Flag(help: "Writers: increment this process's own counter with a declarative mutation, combined across processes; readers: some writers do.")
    var combining = false

    /// The store's name on etcd.
    static let etcdName = "chaos"

    static func configuration(_ endpoints: String) throws -> EtcdConfiguration {
        try EtcdConfiguration(
            endpoints: endpoints.split(separator: ",").map(String.init), requestTimeout: .seconds(2), watchIdleTimeout: .seconds(3))
    }

    func run() async throws {
        switch role {
        case .write: try combining ? writeCombining() : write()
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

    /// Increments `/c/KEY` (KEY: the process ID and a random number) forever with ``StateStore/apply(_:expecting:)`` (published for the lock
    /// holder while another process holds the lock), appending "c PID N VERSION" after the N-th
    /// acknowledged update. The snapshot it gets back must hold exactly N for this process: one
    /// more would be an update applied twice, one less an update lost; either is logged as
    /// "violation …". An update whose outcome could not be told is logged as "unknown PID N",
    /// and the state then says which it was.
    private func writeCombining() throws {
        let options = StateStoreOptions(lockTimeout: .seconds(60), label: "chaos-combining")
        guard let log, let file = FileHandle(forWritingAtPath: log) else { throw ValidationError("--log must name a writable file") }
        file.seekToEndOfFile()
        let store = try StateStore<JSONValue>(directory: dir, options: options)
        // This process's own key (a process ID alone may come back in a later writer).
        let pid = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let pointer = JSONPointer(tokens: ["c", pid])  // the increment creates it, and "c"
        var acknowledged: Int64 = 0
        while true {
            do {
                let snapshot = try store.apply(.increment(pointer, by: 1))
                acknowledged += 1
                let held = (try? snapshot.state.value(at: pointer)).flatMap { value -> Int64? in
                    if case .int(let count) = value { return count } else { return nil }
                }
                file.write(Data("c \(pid) \(acknowledged) \(snapshot.version)\n".utf8))
                if held != acknowledged {
                    file.write(Data("violation \(pid): update \(acknowledged) acknowledged at version \(snapshot.version), whose state holds \(held.map(String.init) ?? "nothing")\n".utf8))
                }
            } catch let error as StateStoreError where error.outcome == .unknown {
                // The state says which: read it, and go on from what it holds.
                file.write(Data("unknown \(pid) \(acknowledged + 1)\n".utf8))
                if case .int(let count)? = try? store.read().state.value(at: pointer) { acknowledged = count }
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
        let verdict = ReaderVerdict(combining: combining)
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
    /// Whether some writers combine: versions then carry several increments of their counters,
    /// so the plain counter is only bounded by the version, and no combining writer's counter
    /// may go down from one version to the next (an update lost).
    private let combining: Bool
    private var counters: [String: Int64] = [:]

    init(combining: Bool) { self.combining = combining }

    func observe(_ event: WatchEvent<ChaosState>) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .snapshot(let snapshot):
            if let last, snapshot.version <= last { regressions += 1 }
            if combining {
                if snapshot.state.counter > Int64(snapshot.version) { mismatches += 1 }
                for (pid, count) in snapshot.state.c ?? [:] {
                    if let before = counters[pid], count < before { mismatches += 1 }
                    counters[pid] = count
                }
            } else if snapshot.state.counter != Int64(snapshot.version) {
                mismatches += 1
            }
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
    /// The combining writers' counters, by process ID (each increments its own).
    var c: [String: Int64]? = nil

    /// How many tokens the state keeps: a lost answer's second application would come within a
    /// few versions of the first.
    static let recentTokens = 64
}
