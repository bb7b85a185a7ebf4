import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) @_spi(Benchmark) import StateCoordinator

@Suite("Watching in one process", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct WatchTests {
    let dir = TemporaryDirectory()

    private func store(keepHistory: Int = 0) throws -> StateStore<JSONValue> {
        try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: keepHistory))
    }

    /// Events a follower delivered, collected for assertions.
    final class Collected: Sendable {
        private let events = Mutex<[WatchEvent<JSONValue>]>([])
        func append(_ event: WatchEvent<JSONValue>) { events.withLock { $0.append(event) } }
        var versions: [UInt64] { snapshots.map(\.version) }
        var snapshots: [StateSnapshot<JSONValue>] {
            events.withLock { $0.compactMap { if case .snapshot(let s) = $0 { s } else { nil } } }
        }
        var kinds: [String] {
            events.withLock {
                $0.map {
                    switch $0 {
                    case .snapshot: "snapshot"
                    case .gap: "gap"
                    case .storeReset: "reset"
                    case .problem: "problem"
                    case .storeGone: "gone"
                    case .modeChanged: "mode"
                    }
                }
            }
        }
        var problems: [StateStoreError] {
            events.withLock { $0.compactMap { if case .problem(let e) = $0 { e } else { nil } } }
        }
        func waitFor(timeout: Duration = .seconds(5), _ condition: (Collected) -> Bool) -> Bool {
            LockHolderWait.until(timeout: timeout) { condition(self) }
        }
        /// The same in an async test, without blocking a thread of the cooperative pool.
        func waitFor(timeout: Duration = .seconds(5), _ condition: (Collected) -> Bool) async -> Bool {
            await eventually(timeout: timeout) { condition(self) }
        }
    }

    private func follow(
        _ store: ReadableStateStore<JSONValue>, loop: WatchLoop = .shared, options: WatchOptions = WatchOptions(),
        since: UInt64? = nil, everyVersion: Bool = false
    ) -> (StateFollower<JSONValue>, Collected) {
        let collected = Collected()
        let follower = StateFollower<JSONValue>(
            handle: store.handle, options: options, since: since, everyVersion: everyVersion, loop: loop
        ) { collected.append($0) }
        follower.start()
        return (follower, collected)
    }

    @Test func snapshotsStartWithTheCurrentVersionThenFollowEachCommit() async throws {
        let store = try store()
        try await store.update { try $0.set(1, forKey: "a") }
        var iterator = StateObservation().values(in: store).makeAsyncIterator()
        #expect(try await iterator.next()?.version == 1)
        try await store.update { try $0.set(2, forKey: "a") }
        let next = try await iterator.next()
        #expect(next?.version == 2)
        #expect(next?.state["a"] == 2)
    }

    @Test func aSlowConsumerGetsTheNewestVersionNotABacklog() async throws {
        let store = try store()
        let watch = StateObservation().values(in: store)
        var iterator = watch.makeAsyncIterator()
        #expect(try await iterator.next()?.version == 0)
        for value in 1...50 { try await store.update { try $0.set(.int(Int64(value)), forKey: "n") } }
        // Wait until the watcher has begun a look at the file after the last commit returned (a
        // counter, not a sleep): that look sees version 50. At the latest the consistency check makes one.
        let looked = watch.watch.statistics.looks
        #expect(await eventually { watch.watch.statistics.looks > looked })
        let next = try await iterator.next()
        #expect(next?.version == 50)
    }

    @Test func sinceReplaysKeptVersionsThenFollowsLive() async throws {
        let store = try store(keepHistory: 10)
        for value in 1...5 { try await store.update { try $0.set(.int(Int64(value)), forKey: "n") } }
        var iterator = StateObservation(.after(2)).events(in: store).makeAsyncIterator()
        var versions: [UInt64] = []
        while versions.count < 3, let event = await iterator.next() {
            if case .snapshot(let snapshot) = event { versions.append(snapshot.version) }
        }
        #expect(versions == [3, 4, 5])
        try await store.update { try $0.set(6, forKey: "n") }
        let live = await iterator.next()
        if case .snapshot(let snapshot) = live { #expect(snapshot.version == 6) } else { Issue.record("no live version: \(String(describing: live))") }
    }

    @Test func sinceReportsVersionsNoLongerKept() async throws {
        let store = try store(keepHistory: 2)
        for value in 1...6 { try await store.update { try $0.set(.int(Int64(value)), forKey: "n") } }
        var iterator = StateObservation(.after(1)).events(in: store).makeAsyncIterator()
        var seen: [String] = []
        while !seen.contains("6"), let event = await iterator.next() {
            switch event {
            case .snapshot(let snapshot): seen.append("\(snapshot.version)")
            case .gap(let missing): seen.append("gap \(missing.lowerBound)-\(missing.upperBound)")
            default: break
            }
        }
        #expect(seen == ["gap 2-3", "4", "5", "6"])
    }

    @Test func everyVersionFillsABurstFromHistory() throws {
        let store = try store(keepHistory: 100)
        let fake = FakeInotify()
        let (follower, collected) = follow(store, loop: fake.makeLoop(), everyVersion: true)
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        // A burst of commits announced by a single notification, as a coalesced reload sees it.
        for value in 1...20 { try store.replace(with: ["n": .int(Int64(value))]) }
        fake.send(InotifyEvent(watch: try #require(fake.watch(of: canonicalPath(dir.path))), mask: UInt32(IN_MOVED_TO), name: "state.json"))
        #expect(collected.waitFor { $0.versions.last == 20 })
        #expect(collected.versions == Array(0...20))
    }

    @Test func queueOverflowCausesOneFullReload() throws {
        let store = try store()
        let fake = FakeInotify()
        let (follower, collected) = follow(store, loop: fake.makeLoop(), options: WatchOptions(consistencyCheckInterval: nil))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        try store.replace(with: ["lost": true])  // its notification "fell off the queue"
        fake.send(InotifyEvent(watch: -1, mask: UInt32(IN_Q_OVERFLOW), name: ""))
        #expect(collected.waitFor { $0.versions == [0, 1] })
        #expect(follower.statistics.resynchronizations == 1)
    }

    @Test func aLostNotificationIsCaughtByTheConsistencyCheckAndCounted() throws {
        let store = try store()
        let fake = FakeInotify()  // delivers nothing but wake-ups: every notification is lost
        let (follower, collected) = follow(
            store, loop: fake.makeLoop(), options: WatchOptions(consistencyCheckInterval: .milliseconds(200)))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        try store.replace(with: ["halt": true])
        #expect(collected.waitFor(timeout: .seconds(2)) { $0.versions == [0, 1] })
        #expect(follower.statistics.missedEvents == 1)
        #expect(follower.mode == .inotify)
    }

    @Test(arguments: [
        (FakeInotify(initializeError: EMFILE), "max_user_instances"),
        (FakeInotify(watchError: ENOSPC), "max_user_watches"),
    ])
    func exhaustedInotifyFallsBackToPolling(fake: FakeInotify, reason: String) throws {
        let store = try store()
        let (follower, collected) = follow(store, loop: fake.makeLoop(), options: WatchOptions(pollInterval: .milliseconds(20)))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        guard case .polling(let why) = follower.mode else { Issue.record("mode \(follower.mode)"); return }
        #expect(why.contains(reason))
        try store.replace(with: ["halt": true])
        #expect(collected.waitFor { $0.versions == [0, 1] })
    }

    @Test func networkFileSystemIsPolledAndSaysWhy() throws {
        _ = try store()
        var options = StateStoreOptions()
        options.systemCalls.fstatfs = { _ in 0xFF53_4D42 }  // CIFS
        let remote = try ReadOnlyStateStore<JSONValue>(directory: dir.path, options: options)
        let (follower, collected) = follow(remote)
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        #expect(follower.mode == .polling(reason: "\(dir.path) is on CIFS, where remote changes are not notified"))
    }

    @Test func aForeignInPlaceWriteIsReportedAndTheLastGoodSnapshotStays() async throws {
        let store = try store()
        try await store.update { try $0.set(false, forKey: "halt") }
        let problems = Collected()
        let reader = try await StateObservation().reader(in: store) { problems.append($0) }
        // The reader starts holding version 1; its watch does not read that file again. A write
        // before the watch is armed is still seen: the watch's first check finds the file changed.
        #expect(reader.current.version == 1)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("state.json")))
        try handle.write(contentsOf: Data("garbage".utf8))  // an editor writing in place
        try handle.close()
        await #expect(problems.waitFor { !$0.problems.isEmpty })
        #expect(reader.current.version == 1)
        #expect(reader.current.state["halt"] == false)
        // The next good commit (a recovery by force) resumes delivery.
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": true], force: true)
        await #expect(problems.waitFor { _ in reader.current.state["halt"] == true })
        #expect(reader.statistics.problems == 1)
    }

    @Test func aRemovedAndRecreatedDirectoryIsFollowedAgain() throws {
        _ = try store()
        let (follower, collected) = follow(try StateStore<JSONValue>(directory: dir.path), options: WatchOptions(pollInterval: .milliseconds(20)))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        try FileManager.default.removeItem(atPath: dir.path)
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
        let recreated = try StateStore<JSONValue>.create(directory: dir.path, initial: ["new": true])
        try recreated.replace(with: ["new": true, "v": 1])
        #expect(collected.waitFor { $0.versions.last == 1 && $0.versions.count >= 2 })
        #expect(collected.kinds.contains("gone"))
        #expect(collected.kinds.contains("reset"))
        #expect(follower.mode == .inotify)
    }

    @Test func readerCurrentFollowsCommits() async throws {
        let store = try store()
        let reader = try await StateObservation().reader(in: store)
        try await store.update { try $0.set(true, forKey: "halt") }
        #expect(try await within(.seconds(10)) { try await reader.wait(until: { $0.version >= 1 }) } != nil)
        #expect(reader.current.state["halt"] == true)
        #expect(reader.mode == .inotify)
        reader.close()
    }

    // MARK: Reading a closed temp file ahead of its rename

    /// A state file for the version after the current one, as a writer of ours would write it.
    private func nextVersionFile(of store: StateStore<JSONValue>, state: JSONValue) throws -> [UInt8] {
        let current = try store.read()
        let bytes = try StateEncoding.encode(state, limit: 1 << 20)
        let header = StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: 1, store: current.storeID,
            version: current.version + 1, committedAt: CommitTimestamp.format(Date()),
            writer: WriterIdentity(pid: getpid(), host: "test", label: "test"), settings: current.settings,
            stateBytes: bytes.count, checksum: Checksum.of(bytes))
        return StateFileCodec.encode(header: header, stateBytes: bytes)
    }

    @Test func aTempFileClosedBeforeItsRenameIsReadAheadAndDeliveredAtItsRenameWithoutReadingItAgain() throws {
        let store = try store()
        let fake = FakeInotify()
        let (follower, collected) = follow(store, loop: fake.makeLoop(), options: WatchOptions(consistencyCheckInterval: nil))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        let watch = try #require(fake.watch(of: canonicalPath(dir.path)))
        // Five commits as a writer of ours makes them: the temp file written and closed (its close
        // announced), then renamed (its rename announced), each event in a read of its own.
        for n in 1...5 {
            let temp = TempFileName.make(prefix: store.handle.files.tempPrefix)
            try Data(try nextVersionFile(of: store, state: ["n": .int(Int64(n))])).write(to: URL(fileURLWithPath: dir.file(temp)))
            fake.send(InotifyEvent(watch: watch, mask: UInt32(IN_CLOSE_WRITE), name: temp))
            #expect(LockHolderWait.until { follower.statistics.tempFilesRead == n }, "\(follower.statistics)")
            #expect(rename(dir.file(temp), dir.file("state.json")) == 0)
            fake.send(InotifyEvent(watch: watch, mask: UInt32(IN_MOVED_TO), name: "state.json"))
            #expect(collected.waitFor { $0.versions == Array(0...UInt64(n)) }, "\(collected.versions)")
        }
        // Every version after the first came from its temp file: verified once, never read twice.
        let statistics = follower.statistics
        #expect(statistics.readAhead == 5, "\(statistics)")
        #expect(statistics.tempFilesRead == 5, "\(statistics)")
        #expect(statistics.reloads == 6, "one verification per version: \(statistics)")
        #expect(statistics.delivered == 6, "\(statistics)")
        #expect(collected.snapshots.map { $0.state["n"] } == [nil, 1, 2, 3, 4, 5])
    }

    /// The same with a real writer and real inotify: each version delivered once, in order, and
    /// each read ahead was used at its rename. (How many are read ahead depends on the shared loop:
    /// a directory of another test deleted while watched makes it re-create its instance, which may
    /// lose a close; that version is then read at its name. The exact count is proven above.)
    @Test func aRealWriterWithASlowFsyncIsReadAheadWhileItSyncs() async throws {
        _ = try store()
        // A slow fsync (as on a busy disk) leaves the watcher time to read the closed temp file.
        var options = StateStoreOptions()
        options.systemCalls.fsync = { (fd) throws(Errno) in
            usleep(20_000)
            try SystemCalls.live.fsync(fd)
        }
        let writer = try await StateStore<JSONValue>(directory: dir.path, options: options)
        let (follower, collected) = await follow(
            try StateStore<JSONValue>(directory: dir.path), options: WatchOptions(consistencyCheckInterval: nil))
        defer { follower.stop() }
        await #expect(collected.waitFor { $0.versions == [0] })
        for n in 1...5 { try await writer.update { try $0.set(.int(Int64(n)), forKey: "n") } }
        await #expect(collected.waitFor { $0.versions == [0, 1, 2, 3, 4, 5] }, "\(collected.versions)")
        let statistics = follower.statistics
        #expect(statistics.readAhead >= 1, "\(statistics)")
        #expect(statistics.delivered == 6 && statistics.reloads == 6, "each version verified once: \(statistics)")
    }

    @Test func aTempFileThatIsNeverRenamedIsNeverDelivered() async throws {
        let store = try store()
        let (follower, collected) = follow(store)
        defer { follower.stop() }
        await #expect(collected.waitFor { $0.versions == [0] })
        // A writer that closed its temp file and died before the rename.
        let orphan = dir.file(TempFileName.make(prefix: ".state.tmp-"))
        try Data(try nextVersionFile(of: store, state: ["from": "orphan"])).write(to: URL(fileURLWithPath: orphan))
        // The watcher read it ahead (its close was announced), and delivered nothing.
        #expect(await eventually { follower.statistics.tempFilesRead >= 1 }, "\(follower.statistics)")
        #expect(collected.versions == [0])
        try await store.update { try $0.set("writer", forKey: "from") }  // sweeps the orphan, commits version 1
        await #expect(collected.waitFor { $0.versions == [0, 1] })
        #expect(collected.snapshots.last?.state["from"] == "writer")
    }

    @Test func aTempFileChangedAfterItWasClosedIsReadAgainAfterItsRename() throws {
        let store = try store()
        let (follower, collected) = follow(store, options: WatchOptions(consistencyCheckInterval: nil))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        // Against the protocol: the temp file is closed (the watcher reads it ahead), then
        // changed through a second descriptor still open, and renamed before that one is closed.
        let temp = dir.file(TempFileName.make(prefix: ".state.tmp-"))
        let first = try nextVersionFile(of: store, state: ["copy": "first"])
        let second = try nextVersionFile(of: store, state: ["copy": "second, longer"])
        let writing = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o640)
        let stillOpen = open(temp, O_WRONLY)
        #expect(writing >= 0 && stillOpen >= 0)
        #expect(first.withUnsafeBytes { write(writing, $0.baseAddress, $0.count) } == first.count)
        close(writing)
        #expect(LockHolderWait.until { follower.statistics.tempFilesRead >= 1 }, "the watcher read the closed temp file")
        #expect(second.withUnsafeBytes { pwrite(stillOpen, $0.baseAddress, $0.count, 0) } == second.count)
        #expect(rename(temp, dir.file("state.json")) == 0)
        defer { close(stillOpen) }
        #expect(collected.waitFor { $0.versions == [0, 1] })
        #expect(collected.snapshots.last?.state["copy"] == "second, longer")
        #expect(follower.statistics.readAhead == 0)
    }

    @Test func anUnchangedFileIsNotReadAgain() throws {
        _ = try store()
        let options = WatchOptions(consistencyCheckInterval: .milliseconds(10))
        let (follower, collected) = follow(try StateStore<JSONValue>(directory: dir.path), options: options)
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        // 20 consistency checks, each opening and fstat-ing the same file.
        #expect(LockHolderWait.until { follower.statistics.looks >= 20 }, "\(follower.statistics)")
        #expect(follower.statistics.reloads == 1)
        #expect(collected.versions == [0])
    }

    @Test func aReaderDoesNotReadItsFirstVersionAgain() async throws {
        let store = try store()
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }
        // The watch is armed and has looked at the file once, without reading it.
        #expect(await eventually { reader.statistics.looks >= 1 })
        #expect(reader.statistics.reloads == 0)
        try await store.update { try $0.set(1, forKey: "n") }
        #expect(try await within(.seconds(10)) { try await reader.wait(until: { $0.version >= 1 }) } != nil)
        #expect(reader.current.version == 1)
        #expect(reader.statistics.reloads == 1)
    }

    @Test(.timeLimit(.minutes(1))) func theBenchmarkObserverSeesEachSnapshotOnceCurrentHoldsIt() async throws {
        let store = try store()
        let observed = Mutex<[(version: UInt64, loadedAt: Date)]>([])
        let (stored, storing) = AsyncStream<UInt64>.makeStream()
        let reader = try store.reader(observingStores: { snapshot in
            observed.withLock { $0.append((snapshot.version, snapshot.loadedAt)) }
            storing.yield(snapshot.version)
        })
        defer { reader.close() }
        var versions = stored.makeAsyncIterator()
        for n in 1...5 {
            let committed = try await store.update { try $0.set(.int(Int64(n)), forKey: "n") }
            // Woken by the observer itself, called right after `current` took the version.
            while let version = await versions.next(), version < committed.version {}
            #expect(reader.current.version == committed.version)
        }
        let seen = observed.withLock { $0 }
        #expect(seen.map(\.version) == Array(seen.map(\.version).sorted()) && seen.last?.version == 5)
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.loadedAt <= $1.loadedAt })
    }

    @Test func thousandSubscribeCancelCyclesLeaveFileDescriptorsAndThreadsAsTheyWere() throws {
        _ = try store()
        let result = try HelperProcess.run(["churn", dir.path, "1000"])
        #expect(result.status == 0, "\(result.stderr)")
        let counts = result.stdout.split(separator: "\n").map { line in
            line.split(separator: " ").compactMap { Int($0) }
        }
        try #require(counts.count == 2 && counts.allSatisfy { $0.count == 2 }, "\(result.stdout)")
        // Every descriptor back; no thread more (an idle dispatch worker may have gone meanwhile;
        // a watch that kept its thread would show 1000 more).
        #expect(counts[1][0] == counts[0][0], "descriptors before and after: \(result.stdout)")
        #expect(counts[1][1] <= counts[0][1], "threads before and after: \(result.stdout)")
    }
}

func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}
