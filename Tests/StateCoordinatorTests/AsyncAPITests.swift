import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The API a Swift developer expects: no-op mutations, cancellation, open-or-create, the
/// read-only store, the reader's hot path, waits and lifecycle.
@Suite("Async API", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct AsyncAPITests {
    let dir = TemporaryDirectory()

    // MARK: Mutations that change nothing

    @Test func aMutationThatChangesNothingWritesNothingAndReturnsTheCurrentSnapshot() async throws {
        try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let fsyncs = Atomic(0)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            if call == .fsync || call == .rename { fsyncs.add(1, ordering: .relaxed) }
        })
        let store = try await StateStore<Risk>(directory: dir.path, options: options)
        let before = try dir.contents("state.json")
        let untouched = try await store.update { _ in }
        let sameValue = try await store.update { $0.halt = false }
        #expect(untouched.version == 0 && sameValue.version == 0)
        #expect(sameValue.checksum == untouched.checksum)
        #expect(fsyncs.load(ordering: .relaxed) == 0, "no fsync and no rename for a mutation that changes nothing")
        #expect(try dir.contents("state.json") == before)
        let forced = try await store.update(commitUnchanged: true) { _ in }
        #expect(forced.version == 1)
        let changed = try await store.update { $0.halt = true }
        #expect(changed.version == 2 && changed.state.halt)
    }

    @Test func aMutationThatChangedNothingOnABaseWhoseLockfileWasReplacedIsRunAgain() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let lockPath = dir.file("state.lock")
        let runs = Atomic(0)
        // The first run decides on a base no longer protected (an operator replaced the lockfile
        // meanwhile): answering "nothing to do" from it could miss a halt another writer committed.
        let snapshot = try await store.update { state in
            if runs.add(1, ordering: .relaxed).newValue == 1 { replaceWithEmptyFile(lockPath) }
            guard state["halt"] != true else { return }
        }
        #expect(runs.load(ordering: .relaxed) == 2, "decided again under the new lockfile")
        #expect(snapshot.version == 0)
    }

    @Test func updateWithResultReturnsTheSnapshotAndTheValue() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let result = try await store.updateWithResult { risk -> Int64 in
            risk.maxPosition += 50
            return risk.maxPosition
        }
        #expect(result.value == 150 && result.snapshot.version == 1 && result.snapshot.state.maxPosition == 150)
    }

    // MARK: Cancellation

    @Test func anUpdateCancelledWhileWaitingForTheLockThrowsAndCommitsNothing() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let holder = try RunningHelper(
            ["-c", "exec flock \(dir.file("state.lock")) sh -c 'echo locked; read line'"], executable: URL(fileURLWithPath: "/bin/sh"))
        #expect(holder.waitForLine { $0 == "locked" })
        let ran = Atomic(false)
        let task = Task {
            try await store.update { state in
                ran.store(true, ordering: .relaxed)
                try state.set(1, forKey: "cancelled")
            }
        }
        // The update's batch is blocked in flock, behind flock(1).
        #expect(await eventually { LockWaiter.parkedCount >= 1 })
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(holder.process.isRunning, "answered while the lock was still held")
        holder.closeInput()
        _ = holder.waitForExit()
        let next = try await store.update { try $0.set(2, forKey: "after") }
        #expect(next.version == 1)
        #expect(next.state["cancelled"] == nil)
        #expect(ran.load(ordering: .relaxed) == false, "the cancelled mutation never ran")
    }

    @Test func anUpdateCancelledAfterItsMutationRanCompletes() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let entered = DispatchSemaphore(value: 0)
        let proceed = DispatchSemaphore(value: 0)
        let task = Task {
            try await store.update { state in
                entered.signal()
                proceed.wait()
                try state.set(1, forKey: "x")
            }
        }
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                entered.wait()
                continuation.resume()
            }
        }
        task.cancel()
        proceed.signal()
        let snapshot = try await task.value
        #expect(snapshot.version == 1 && snapshot.state["x"] == 1)
    }

    @Test func aTaskCancelledBeforeItsUpdateCommitsNothing() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await store.update { try $0.set(1, forKey: "x") }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(try await store.read().version == 0)
    }

    // MARK: Opening

    @Test func eightProcessesStartingAtOnceOpenOrCreateOneStore() throws {
        let bots = try (0..<8).map { _ in try RunningHelper(["open-or-create", dir.path]) }
        for bot in bots { bot.send(Data("go\n".utf8)) }
        let results = bots.map { $0.waitForExit() }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        let counters = results.compactMap { $0.stdout.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        #expect(counters.sorted() == Array(1...8), "each bot's increment landed on the one store")
        let store = try ReadOnlyStateStore<JSONValue>(directory: dir.path)
        #expect(try store.read().version == 8)
        #expect(try dir.names() == ["state.json", "state.lock"])
    }

    @Test func openOrCreateNeverReplacesAStoreItCannotOpen() async throws {
        try Data(#"{"positions":{}}"#.utf8).write(to: URL(fileURLWithPath: dir.file("state.json")))
        await #expect {
            try await StateStore<JSONValue>.openOrCreate(directory: dir.path, initial: [:])
        } throws: { ($0 as? StateStoreError)?.code == .unverifiable }
        #expect(try dir.names() == ["state.json"])
        #expect(try dir.contents("state.json") == Data(#"{"positions":{}}"#.utf8))
    }

    @Test func aReadOnlyStoreNeedsNoLockfile() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        try FileManager.default.removeItem(atPath: dir.file("state.lock"))
        let reader = try await ReadOnlyStateStore<JSONValue>(directory: dir.path)
        #expect(try await reader.read().state["halt"] == false)
        await #expect {
            try await StateStore<JSONValue>(directory: dir.path)
        } throws: { ($0 as? StateStoreError)?.code == .notFound }
    }

    // MARK: The reader

    @Test func aReaderReadsAFieldInPlaceAndWaitsForACondition() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }
        #expect(reader.read { $0.state.halt } == false)
        let waiter = Task { try await reader.wait(until: { $0.state.halt }) }
        try await store.update { $0.maxPosition = 5 }
        try await store.update { $0.halt = true }
        let halted = try await waiter.value
        #expect(halted.state.halt && halted.version == 2)
        // Already true: returns at once.
        #expect(try await reader.wait(until: { $0.state.halt }).version == 2)
    }

    /// A wait's condition is the application's code: it runs in the waiting task, never on the
    /// watch loop's thread (where a slow one would hold up every watcher of the process) nor
    /// under the reader's lock.
    @Test func aWaitsConditionRunsInTheWaitingTaskNeverOnTheWatchLoop() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }
        let looked = Mutex<[(version: UInt64, onLoop: Bool)]>([])
        let waiter = Task {
            try await reader.wait(until: { snapshot in
                looked.withLock { $0.append((snapshot.version, WatchLoop.shared.isCurrentThread)) }
                _ = reader.current  // the reader's lock is free: this would deadlock under it
                return snapshot.state.maxPosition == 3
            })
        }
        for position: Int64 in 1...3 { try await store.update { $0.maxPosition = position } }
        let reached = try await waiter.value
        #expect(reached.state.maxPosition == 3)
        let seen = looked.withLock { $0 }
        #expect(!seen.isEmpty && seen.allSatisfy { !$0.onLoop }, "\(seen)")
        #expect(seen.map(\.version) == seen.map(\.version).sorted(), "each look at a newer snapshot")
    }

    /// One observation value, two policies for a version the bot cannot decode: passed over (the
    /// next good one is delivered) or the end of the sequence, with the version's error.
    @Test func anObservationSkipsOrFailsAtAnUnusableVersionAsItSays() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false, "maxPosition": 1])
        let typed = try await ReadOnlyStateStore<Risk>(directory: dir.path)
        let untyped = try await StateStore<JSONValue>(directory: dir.path)
        var skipping = StateObservation(.every).values(in: typed).makeAsyncIterator()
        var failing = StateObservation(.every, unusableVersions: .fail).values(in: typed).makeAsyncIterator()
        #expect(try await skipping.next()?.version == 0)
        #expect(try await failing.next()?.version == 0)
        try await untyped.update { try $0.set("not a number", forKey: "maxPosition") }
        try await untyped.update { try $0.set(7, forKey: "maxPosition") }
        #expect(try await skipping.next()?.version == 2, "version 1 passed over")
        await #expect { _ = try await failing.next() } throws: { ($0 as? StateStoreError)?.code == .badState && ($0 as? StateStoreError)?.version == 1 }
        #expect(try await failing.next() == nil, "ended")
    }

    @Test func aWaitEndsWithCancellationOrWhenTheReaderCloses() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let reader = try await StateObservation().reader(in: store)
        let cancelled = Task { try await reader.wait(until: { $0.state.halt }) }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let closing = Task { try await reader.wait(until: { $0.state.halt }) }
        // Wait on the registration, not on a sleep: a wait in progress is a waiter in the reader.
        #expect(await eventually { reader.waiterCount == 1 })
        reader.close()
        await #expect { try await closing.value } throws: { ($0 as? StateStoreError)?.code == .closed }
        #expect(reader.mode == .closed)
    }

    @Test func aVersionTheReaderCannotDecodeIsItsProblemUntilAGoodOneArrives() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false, "maxPosition": 1])
        let typed = try await ReadOnlyStateStore<Risk>(directory: dir.path)
        let reader = try await StateObservation().reader(in: typed)
        defer { reader.close() }
        #expect(reader.problem == nil)
        let untyped = try await StateStore<JSONValue>(directory: dir.path)
        try await untyped.update { try $0.set("not a number", forKey: "maxPosition") }
        #expect(await eventually { reader.problem?.code == .badState })
        #expect(reader.problem?.cause is DecodingError, "the DecodingError is kept as the cause")
        #expect(reader.current.version == 0, "the last good version stays current")
        try await untyped.update { try $0.set(7, forKey: "maxPosition") }
        let fixed = try await reader.wait(until: { $0.version == 2 })
        #expect(fixed.state.maxPosition == 7 && reader.problem == nil)
    }

    @Test func aReaderRunAsAServiceClosesOnGracefulShutdown() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let reader = try await StateObservation().reader(in: store)
        let group = ServiceGroup(services: [reader], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await group.run() }
        try await store.update { $0.halt = true }
        #expect(try await reader.wait(until: { $0.state.halt }).version == 1)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(reader.mode == .closed)
    }

    @Test func aWatchIteratedByAServiceEndsOnGracefulShutdownAndReleasesItsWatch() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        final class Counter: Sendable { let seen = Atomic(0) }
        struct Follower: Service {
            let watch: StateWatch<Risk>
            let counter: Counter
            func run() async throws {
                for await event in watch.cancelOnGracefulShutdown() {
                    if case .snapshot = event { counter.seen.add(1, ordering: .relaxed) }
                }
            }
        }
        let counter = Counter()
        let watch = StateObservation().events(in: store)
        let group = ServiceGroup(
            services: [Follower(watch: watch, counter: counter)], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await group.run() }
        #expect(await eventually { counter.seen.load(ordering: .relaxed) >= 1 })
        await group.triggerGracefulShutdown()
        try await running.value
        // The iterator's follower is gone with it (the watch holds it weakly).
        #expect(await eventually { watch.statistics == WatchStatistics() })
    }

    // MARK: Logging

    @Test func aLockTimeoutIsLoggedAtInfoNamingTheHolder() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path)
        let log = InMemoryLog()
        let store = try await StateStore<JSONValue>(
            directory: dir.path, options: StateStoreOptions(lockTimeout: .milliseconds(200), logger: log.logger))
        let holder = try RunningHelper(
            ["-c", "exec flock \(dir.file("state.lock")) sh -c 'echo locked; read line'"], executable: URL(fileURLWithPath: "/bin/sh"))
        defer {
            holder.closeInput()
            _ = holder.waitForExit()
        }
        #expect(holder.waitForLine { $0 == "locked" })
        await #expect { try await store.update { try $0.set(1, forKey: "x") } } throws: {
            ($0 as? StateStoreError)?.code == .lockTimeout
        }
        let records = log.records
        #expect(records.count == 1, "\(records)")
        #expect(records.first?.level == .info)
        #expect(records.first?.message == "commit failed: lock timeout")
        #expect(records.first?.metadata["holderPID"] == "\(holder.pid)")
        #expect(records.first?.metadata["store"] == "\(dir.path)/state.json")
        #expect(records.allSatisfy { $0.level <= .info }, "the library never logs above info")
    }
}

/// A log handler that keeps every record, for tests.
final class InMemoryLog: Sendable {
    struct Record: Sendable, CustomStringConvertible {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
        var description: String { "\(level) \(message) \(metadata)" }
    }

    private let storage = Mutex<[Record]>([])
    var records: [Record] { storage.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "test", factory: { _ in Handler(log: self) })
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ record: Record) { storage.withLock { $0.append(record) } }

    struct Handler: LogHandler {
        let log: InMemoryLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            log.append(Record(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}
