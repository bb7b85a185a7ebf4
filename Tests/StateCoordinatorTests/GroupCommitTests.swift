import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

@Suite("Group commit")
struct GroupCommitTests {
    let dir = TemporaryDirectory()

    /// A store whose first file fsync takes 200 ms, so that every update submitted meanwhile
    /// queues behind it: deterministic batching without timing assumptions.
    private func storeWithSlowFirstCommit() throws -> StateStore<JSONValue> {
        try StateStore<JSONValue>.create(directory: dir.path, initial: ["log": []])
        let first = Atomic(true)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (name) throws(Errno) in
            if name == .fsync, first.exchange(false, ordering: .relaxed) { usleep(200_000) }
        })
        return try StateStore<JSONValue>(directory: dir.path, options: options)
    }

    private static func append(_ id: Int) -> @Sendable (inout JSONValue) throws -> Void {
        { state in
            guard case .array(var log) = state["log"] else { return }
            log.append(.int(Int64(id)))
            try state.set(.array(log), forKey: "log")
        }
    }

    @Test func concurrentUpdatesShareCommitsAndEachSeesItsMutation() async throws {
        let store = try storeWithSlowFirstCommit()
        let versions = try await withThrowingTaskGroup(of: (Int, StateSnapshot<JSONValue>).self) { group in
            for id in 0..<64 {
                group.addTask { (id, try await store.update(Self.append(id))) }
            }
            var seen: [UInt64] = []
            for try await (id, snapshot) in group {
                guard case .array(let log) = snapshot.state["log"] else { Issue.record("no log"); continue }
                #expect(log.contains(.int(Int64(id))), "update \(id) not in the version it was told about")
                seen.append(snapshot.version)
            }
            return seen
        }
        let final = try await store.read()
        guard case .array(let log) = final.state["log"] else { Issue.record("no log"); return }
        #expect(Set(log) == Set((0..<64).map { JSONValue.int(Int64($0)) }))
        #expect(final.version < 64, "no batching happened: \(final.version) commits for 64 updates")
        #expect(Set(versions).count == Int(final.version))
    }

    @Test func updatesAreAppliedInCallOrder() throws {
        let store = try storeWithSlowFirstCommit()
        let done = DispatchGroup()
        for id in 0..<20 {
            done.enter()
            store.pipeline.submit(
                PendingUpdate(
                    expectedVersion: nil,
                    mutation: { state in
                        try Self.append(id)(&state)
                        return { _ in done.leave() }
                    },
                    failure: { error in
                        Issue.record(error)
                        done.leave()
                    }))
        }
        done.wait()
        #expect(try store.read().state["log"] == .array((0..<20).map { .int(Int64($0)) }))
    }

    @Test func compareAndSwapUpdatesWithTheSameExpectationCommitOnce() async throws {
        let store = try storeWithSlowFirstCommit()
        try await store.update { try $0.set(true, forKey: "warmup") }  // takes the slow fsync
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for id in 0..<8 {
                group.addTask { (try? await store.update(expecting: 1, Self.append(id))) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        await #expect(try store.read().version == 2)
    }

    @Test func aFailingMutationDoesNotSpoilItsBatch() async throws {
        struct Refused: Error {}
        let store = try storeWithSlowFirstCommit()
        let results = await withTaskGroup(of: Bool.self) { group in
            for id in 0..<16 {
                group.addTask {
                    (try? await store.update { state in
                        if id % 2 == 1 { throw Refused() }
                        try Self.append(id)(&state)
                    }) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 8)
        guard case .array(let log) = try await store.read().state["log"] else { Issue.record("no log"); return }
        #expect(Set(log) == Set(stride(from: 0, to: 16, by: 2).map { JSONValue.int(Int64($0)) }))
    }

    @Test func anOversizedUpdateFailsAloneWhenItsBatchIsSplit() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["log": []], settings: StoreSettings(maximumStateBytes: 512))
        let first = Atomic(true)
        let pipeline = Mutex<CommitPipeline<JSONValue>?>(nil)
        let gathered = Atomic(false)
        let (inFsync, enteringFsync) = AsyncStream<Void>.makeStream()
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (name) throws(Errno) in
            // A slow disk: the warm-up commit's fsync lasts until the next three updates gather.
            if name == .fsync, first.exchange(false, ordering: .relaxed), let pipeline = pipeline.withLock({ $0 }) {
                enteringFsync.yield()
                gathered.store(pipeline.waitUntilWaiting(atLeast: 3, timeout: .seconds(30)), ordering: .relaxed)
            }
        })
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        pipeline.withLock { $0 = store.pipeline }
        async let warmup: Void = { _ = try? await store.update { try $0.set(true, forKey: "warm") } }()
        var fsyncs = inFsync.makeAsyncIterator()
        _ = await fsyncs.next()  // the warm-up commit is in its fsync: the three below queue behind it
        async let small = store.update(Self.append(1))
        async let huge = store.update { try $0.set(.string(String(repeating: "x", count: 1000)), forKey: "blob") }
        async let other = store.update(Self.append(2))
        _ = await warmup
        let smallOK = (try? await small) != nil
        let hugeError: StateStoreError.Code?
        do {
            _ = try await huge
            hugeError = nil
        } catch {
            hugeError = (error as? StateStoreError)?.code
        }
        let otherOK = (try? await other) != nil
        let formed = gathered.load(ordering: .relaxed)
        #expect(formed, "the three updates waited together: one batch")
        #expect(smallOK && otherOK)
        #expect(hugeError == .tooLarge)
        await #expect(try store.read().state["blob"] == nil)
    }

    /// A split batch whose first single commit fails after its rename took effect: only that
    /// update hears "committed, durability unknown"; the ones after it were never written and
    /// hear "not committed".
    @Test func aFailedRenameInASplitBatchIsThatUpdatesAlone() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["log": []], settings: StoreSettings(maximumStateBytes: 512))
        let renames = Atomic(0)
        var options = StateStoreOptions()
        options.systemCalls.rename = { (d, from, to) throws(Errno) in
            try SystemCalls.live.rename(d, from, to)
            // The holder's rename is the first; the split batch's first single commit the second.
            if renames.add(1, ordering: .relaxed).newValue == 2 { throw .ioError }
        }
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        // An update whose mutation waits keeps the pipeline busy until both others are queued,
        // so that they form the next batch, whose combined state is too large: it is split.
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let once = Atomic(true)
        async let holder: Void = {
            _ = try? await store.update { state in
                if once.exchange(false, ordering: .relaxed) {
                    entered.signal()
                    release.wait()
                }
                try state.set(true, forKey: "held")
            }
        }()
        await withCheckedContinuation { continuation in DispatchQueue.global().async { entered.wait(); continuation.resume() } }
        let half = String(repeating: "x", count: 300)
        async let first = store.update { try $0.set(.string(half), forKey: "a") }
        async let second = store.update { try $0.set(.string(half), forKey: "b") }
        let pipeline = store.pipeline
        #expect(await onOwnThread { pipeline.waitUntilWaiting(atLeast: 2, timeout: .seconds(10)) })
        #expect(store.pipeline.waitingCount == 2)
        release.signal()
        _ = await holder
        var outcomes: [CommitOutcome?] = []
        do {
            _ = try await first
            outcomes.append(nil)
        } catch { outcomes.append((error as? StateStoreError)?.outcome) }
        do {
            _ = try await second
            outcomes.append(nil)
        } catch { outcomes.append((error as? StateStoreError)?.outcome) }
        #expect(outcomes == [.committedDurabilityUnknown, .notCommitted])
        let state = try await store.read().state
        #expect(state["a"] != nil && state["b"] == nil)
    }
}
