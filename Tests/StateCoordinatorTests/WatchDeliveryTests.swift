import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Core-correctness items 3 and 4: delivery that promises every version drops none without a gap
/// event, each iterator follows on its own, cancelling releases everything, transient failures
/// are retried; the loop survives a failing descriptor and a failed start, and a large new version
/// is never read on the loop thread.
@Suite("Watch delivery and watch loop robustness", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct WatchDeliveryTests {
    let dir = TemporaryDirectory()
    typealias Collected = WatchTests.Collected

    private func store() throws -> StateStore<JSONValue> {
        try StateStore<JSONValue>.create(directory: dir.path)
    }

    private func follow(
        _ store: ReadableStateStore<JSONValue>, loop: WatchLoop = .shared, options: WatchOptions = WatchOptions(consistencyCheckInterval: nil),
        onEvent: @escaping @Sendable (WatchEvent<JSONValue>) -> Void = { _ in }
    ) -> (StateFollower<JSONValue>, Collected) {
        let collected = Collected()
        let follower = StateFollower<JSONValue>(handle: store.handle, options: options, since: nil, everyVersion: false, loop: loop) {
            onEvent($0)
            collected.append($0)
        }
        follower.start()
        return (follower, collected)
    }

    private func snapshot(_ version: UInt64) -> WatchEvent<JSONValue> {
        .snapshot(
            StateSnapshot(
                state: .null, version: version, committedAt: Date(), writer: WriterIdentity(pid: 1, host: "h", label: "l"),
                storeID: "s", checksum: "", fileSize: 0, settings: StoreSettings(), loadedAt: Date()))
    }

    // MARK: Item 3

    /// Reads a finished buffer to its end: how many events, and the versions they stand for.
    private func drain(_ buffer: WatchEventBuffer<JSONValue>) async -> (events: Int, covered: [UInt64]) {
        var covered: [UInt64] = []
        var events = 0
        while let event = await buffer.next() {
            events += 1
            switch event {
            case .snapshot(let snapshot): covered.append(snapshot.version)
            case .gap(let missing): covered.append(contentsOf: missing)
            default: break
            }
        }
        return (events, covered)
    }

    @Test func aFullBufferTurnsTheOldestVersionsIntoOneGapAndDropsNoneSilently() async {
        let buffer = WatchEventBuffer<JSONValue>(coalesce: false, limit: 8)
        for version in 1...50 { buffer.push(snapshot(UInt64(version))) }
        buffer.push(.problem(StateStoreError(.corrupt, "bad")))
        buffer.push(snapshot(51))
        buffer.finish()
        let (events, covered) = await drain(buffer)
        #expect(events <= 8)
        #expect(covered == Array(1...51), "every version is delivered or named in a gap, in order")
    }

    @Test func aFullBufferWithOtherEventsBetweenShortRunsStillMakesRoom() async {
        let buffer = WatchEventBuffer<JSONValue>(coalesce: false, limit: 4)
        // Runs of one or two versions between problems: the shape a directory recreate gives.
        for version in stride(from: 1, through: 40, by: 2) {
            buffer.push(snapshot(UInt64(version)))
            buffer.push(snapshot(UInt64(version + 1)))
            buffer.push(.problem(StateStoreError(.corrupt, "bad")))
        }
        buffer.finish()
        let (events, covered) = await drain(buffer)
        #expect(events <= 4)
        #expect(covered == Array(1...40), "every version is delivered or named in a gap (problems may be dropped)")
    }

    @Test func twoIteratorsOfOneWatchEachGetEveryVersion() async throws {
        let store = try store()
        let watch = StateObservation().values(in: store)
        var first = watch.makeAsyncIterator()
        var second = watch.makeAsyncIterator()
        #expect(try await first.next()?.version == 0)
        #expect(try await second.next()?.version == 0)
        try await store.update { try $0.set(1, forKey: "n") }
        #expect(try await first.next()?.version == 1)
        #expect(try await second.next()?.version == 1)
    }

    @Test func nothingRunsBeforeIterationStarts() throws {
        let store = try store()
        let watch = StateObservation().events(in: store)
        #expect(watch.newest.follower == nil)
        let iterator = watch.makeAsyncIterator()
        #expect((iterator.lifetime.follower as? StateFollower<JSONValue>)?.isStopped == false)
    }

    @Test func cancellingTheConsumerReleasesTheFollowerItsSubscriptionAndTimers() async throws {
        let store = try store()
        let fake = FakeInotify()
        let loop = fake.makeLoop()
        let watch = store.makeWatch(.latest, options: WatchOptions(), loop: loop)
        let started = AsyncStream<Void>.makeStream()
        let consumer = Task {
            for await _ in watch { started.continuation.yield() }
        }
        for await _ in started.stream { break }
        let follower = try #require(watch.newest.follower as? StateFollower<JSONValue>)
        #expect(follower.isSubscribed && loop.subscriptionCount == 1)
        #expect(follower.timerCount == 1, "the consistency check")
        consumer.cancel()
        await consumer.value
        #expect(follower.isStopped)
        #expect(follower.timerCount == 0)
        // The loop itself let go (it answers the unsubscription on its own thread).
        let deadline = ContinuousClock.now + .seconds(5)
        while loop.subscriptionCount != 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(loop.subscriptionCount == 0)
    }

    @Test func aStoppedFollowerDeliversNothingMore() throws {
        let store = try store()
        let (stopped, collected) = follow(store)
        #expect(collected.waitFor { $0.versions == [0] })
        stopped.stop()
        try store.replace(with: ["n": 1])
        // A second follower seeing version 1 shows the loop has handled the rename.
        let (witness, seen) = follow(store)
        defer { witness.stop() }
        #expect(seen.waitFor { $0.versions == [1] })
        try store.replace(with: ["n": 2])
        #expect(seen.waitFor { $0.versions == [1, 2] })
        #expect(collected.versions == [0])
    }

    @Test func aTransientFailureDuringDeliveryIsRetriedNotRecordedAsSeen() throws {
        _ = try store()
        // The first open of the state file after version 0 fails with EMFILE, once.
        let failNext = Atomic(false)
        var options = StateStoreOptions()
        options.systemCalls.open = { (directory, path, intent) throws(Errno) in
            if path.hasSuffix("/state.json"), failNext.exchange(false, ordering: .relaxed) { throw .tooManyOpenFiles }
            return try SystemCalls.live.open(directory, path, intent)
        }
        let reader = try ReadOnlyStateStore<JSONValue>(directory: dir.path, options: options)
        let (follower, collected) = follow(reader, options: WatchOptions(pollInterval: .milliseconds(50), consistencyCheckInterval: nil))
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        failNext.store(true, ordering: .relaxed)
        let writer = try StateStore<JSONValue>(directory: dir.path)
        try writer.replace(with: ["halt": true])
        // No consistency check and no further commit: only the retry can deliver it.
        #expect(collected.waitFor { $0.versions == [0, 1] }, "\(collected.kinds)")
        #expect(collected.problems.map(\.code) == [.ioFailure])
    }

    // MARK: Item 4

    @Test func aPersistentlyFailingDescriptorDoesNotSpinAndTheHubRecovers() throws {
        let store = try store()
        let fake = FakeInotify()
        let (follower, collected) = follow(store, loop: fake.makeLoop())
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        fake.failReads(with: EIO)
        let start = ContinuousClock.now
        #expect(collected.waitFor(timeout: .seconds(3)) { _ in fake.failedReads >= 6 })
        let failed = fake.failedReads
        let elapsed = ContinuousClock.now - start
        // Pauses of 10, 20, 40, 80, 160, 320 ms… : a handful of reads, not a busy loop.
        #expect(failed < 12, "\(failed) failed reads in \(elapsed)")
        fake.failReads(with: nil)
        // The loop re-created its instance and re-watched the directory.
        #expect(collected.waitFor { _ in fake.watch(of: canonicalPath(dir.path)) != nil && fake.cleanups > 0 })
        try store.replace(with: ["n": 1])
        #expect(collected.waitFor { _ in
            if let watch = fake.watch(of: canonicalPath(dir.path)) {
                fake.send(InotifyEvent(watch: watch, mask: UInt32(IN_MOVED_TO), name: "state.json"))
            }
            return collected.versions.last == 1
        })
        #expect(follower.mode == .inotify)
    }

    @Test func aFailedStartIsNotCachedAndAPollingFollowerReturnsToInotify() throws {
        let store = try store()
        let fake = FakeInotify(initializeError: EMFILE, initializeFailures: 1)
        var options = WatchOptions(pollInterval: .milliseconds(20), consistencyCheckInterval: nil)
        options.inotifyRetryInterval = .milliseconds(50)
        let (follower, collected) = follow(store, loop: fake.makeLoop(), options: options)
        defer { follower.stop() }
        #expect(collected.waitFor { $0.versions == [0] })
        #expect(collected.waitFor { _ in follower.mode == .inotify }, "\(follower.mode)")
        #expect(fake.initializations == 2)
        #expect(follower.statistics.resynchronizations == 1)
    }

    @Test func aLargeNewVersionIsNotReadOnTheHubThread() async throws {
        let store = try store()
        let threads = Mutex<[String]>([])  // where each snapshot was delivered
        let (follower, collected) = follow(store) { event in
            if case .snapshot = event { threads.withLock { $0.append(WatchLoop.shared.isCurrentThread ? "loop" : "other") } }
        }
        defer { follower.stop() }
        await #expect(collected.waitFor { $0.versions == [0] })
        // Small versions are read on the loop thread when its reload gate is free; commit until one
        // is, so that the next reload starts from a small previous version read inline.
        var version: UInt64 = 0
        repeat {
            let n = Int64(version)
            version = try await store.update { try $0.set(.int(n), forKey: "small") }.version
            await #expect(collected.waitFor { $0.versions.last == version })
        } while threads.withLock({ $0.last }) != "loop" && version < 20
        #expect(threads.withLock { $0.last } == "loop", "\(threads.withLock { $0 })")
        let readAheadBefore = follower.statistics.readAhead
        try await store.update { try $0.set(.string(String(repeating: "x", count: 400 << 10)), forKey: "big") }
        await #expect(collected.waitFor { $0.versions.last == version + 1 })
        // Not read there. (Delivered there it may be, when the queue had read the temp file ahead of
        // its rename before the rename's event came: then the loop only hands the snapshot over.)
        let readAhead = follower.statistics.readAhead > readAheadBefore
        #expect(threads.withLock { $0.last } != "loop" || readAhead, "\(threads.withLock { $0 })")
    }
}
