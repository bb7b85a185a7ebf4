import Foundation
import Synchronization
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The ``StoreBackend`` seam: the same behaviour asked of the file backend (the product) and of a
/// trivial in-memory one (``InMemoryBackend``, tests only), so that a second backend plugs in
/// beside the first without touching the store's public surface.
@Suite("Store backends", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct StoreBackendTests {
    enum Kind: String, CaseIterable, Sendable { case file, memory }

    let dir = TemporaryDirectory()

    func backend(_ kind: Kind) throws -> any StoreBackend<JSONValue> {
        switch kind {
        case .file:
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 0], settings: StoreSettings(keepHistory: 10))
            return FileBackend<JSONValue>(
                handle: try StoreHandle.open(directory: dir.path, name: "state", options: StateStoreOptions(), forWriting: true))
        case .memory:
            return try InMemoryBackend<JSONValue>(initial: ["n": 0])
        }
    }

    /// What an update was answered with.
    final class Answer: Sendable {
        let result = Mutex<Result<StateSnapshot<JSONValue>, any Error>?>(nil)
        var snapshot: StateSnapshot<JSONValue>? { result.withLock { try? $0?.get() } }
        var error: StateStoreError? {
            result.withLock { if case .failure(let error)? = $0 { error as? StateStoreError } else { nil } }
        }
    }

    func update(expecting: UInt64? = nil, _ change: @escaping @Sendable (inout JSONValue) throws -> Void) -> (PendingUpdate<JSONValue>, Answer) {
        let answer = Answer()
        let update = PendingUpdate<JSONValue>(
            expectedVersion: expecting,
            mutation: { state in
                try change(&state)
                return { snapshot in answer.result.withLock { $0 = .success(snapshot) } }
            },
            failure: { error in answer.result.withLock { $0 = .failure(error) } })
        return (update, answer)
    }

    static func increment(_ state: inout JSONValue) throws {
        guard case .int(let n)? = state["n"] else { throw StateStoreError(.badState, "no n") }
        try state.set(.int(n + 1), forKey: "n")
    }

    @Test(arguments: Kind.allCases)
    func aBatchIsOneVersionAndEveryUpdateIsAnswered(_ kind: Kind) throws {
        let backend = try backend(kind)
        let updates = (0..<3).map { _ in update(Self.increment) }
        backend.commit(updates.map(\.0))
        #expect(updates.allSatisfy { $0.1.snapshot?.version == 1 }, "one version for the batch")
        let newest = try backend.readNewest()
        #expect(newest.version == 1 && newest.state["n"] == 3)
    }

    @Test(arguments: Kind.allCases)
    func aCompareAndSwapOnAnotherVersionIsAConflictAndCommitsNothing(_ kind: Kind) throws {
        let backend = try backend(kind)
        let (stale, answer) = update(expecting: 5, Self.increment)
        backend.commit([stale])
        #expect(answer.error?.code == .conflict && answer.error?.currentVersion == 0)
        #expect(try backend.readNewest().version == 0)
        let (fresh, ok) = update(expecting: 0, Self.increment)
        backend.commit([fresh])
        #expect(ok.snapshot?.version == 1)
    }

    @Test(arguments: Kind.allCases)
    func aBatchThatChangesNothingMakesNoVersion(_ kind: Kind) throws {
        let backend = try backend(kind)
        let (same, answer) = update { _ in }
        backend.commit([same])
        #expect(answer.snapshot?.version == 0)
        #expect(try backend.readNewest().version == 0)
    }

    @Test(arguments: Kind.allCases)
    func anUpdateThatThrowsFailsAloneInItsBatch(_ kind: Kind) throws {
        let backend = try backend(kind)
        let (good, ok) = update(Self.increment)
        let (bad, refused) = update { _ in throw StateStoreError(.invalidArgument, "no") }
        backend.commit([good, bad])
        #expect(ok.snapshot?.version == 1 && refused.error?.code == .invalidArgument)
    }

    @Test(arguments: Kind.allCases)
    func keptVersionsAreListedAndRead(_ kind: Kind) throws {
        let backend = try backend(kind)
        for _ in 0..<3 { backend.commit([update(Self.increment).0]) }
        #expect(try backend.historyListing().entries.map(\.version) == [2, 1, 0])
        #expect(try backend.readKept(version: 1).state["n"] == 1)
        #expect(throws: StateStoreError.self) { try backend.readKept(version: 99) }
        #expect(backend.verify().isHealthy)
        #expect(try backend.readerListing().readers.isEmpty)
    }

    @Test(arguments: Kind.allCases)
    func aFollowGetsTheNewestThenEachNewVersionUntilStopped(_ kind: Kind) async throws {
        let backend = try backend(kind)
        let seen = Mutex<[UInt64]>([])
        let follow = backend.follow(FollowRequest(options: WatchOptions()) { event in
            if case .snapshot(let snapshot) = event { seen.withLock { $0.append(snapshot.version) } }
        })
        #expect(await eventually { seen.withLock { $0 } == [0] })
        backend.commit([update(Self.increment).0])
        #expect(await eventually { seen.withLock { $0 } == [0, 1] })
        follow.stop()
        backend.commit([update(Self.increment).0])
        #expect(try backend.readNewest().version == 2)
        #expect(seen.withLock { $0 } == [0, 1], "nothing after stop")
    }

    /// The public observation surface (a reader, the values sequence) runs on whatever backend
    /// the store has: the in-memory one answers here without a file being read after opening.
    @Test func readersAndObservationsFollowTheStoresBackend() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 0])
        let handle = try await StoreHandle.open(directory: dir.path, name: "state", options: StateStoreOptions(), forWriting: false)
        let memory = try InMemoryBackend<JSONValue>(initial: ["n": 100])
        let store = ReadableStateStore<JSONValue>(handle: handle, backend: memory)
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }
        #expect(reader.current.state["n"] == 100, "the backend's version, not the file's")
        var values = StateObservation(.every).values(in: store).makeAsyncIterator()
        #expect(try await values.next()?.state["n"] == 100)
        memory.commit([update(Self.increment).0])
        #expect(try await values.next()?.state["n"] == 101)
        #expect(try await reader.wait { $0.state["n"] == 101 }.version == 1)
        #expect(await store.supportedWatchMode() == .inotify)
    }
}
