import Foundation
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Declarative mutations, their queue's names and what a holder that died left.
@Suite("Combining: mutations and the queue")
struct CombiningTests {
    private static let pointer = JSONPointer(tokens: ["a", "b"])

    @Test func mutationsApplyAsTheirCommandsDo() throws {
        var state: JSONValue = ["a": ["b": 1], "list": [1, 2]]
        try StateMutation.increment(Self.pointer, by: 2).apply(to: &state)
        #expect(state["a"]?["b"] == .int(3))
        try StateMutation.increment(JSONPointer(tokens: ["new", "n"]), by: .double(0.5)).apply(to: &state)
        #expect(state["new"]?["n"] == .double(0.5))
        try StateMutation.set(JSONPointer(tokens: ["list", "-"]), "x").apply(to: &state)
        #expect(state["list"] == [1, 2, "x"])
        try StateMutation.delete(JSONPointer(tokens: ["new"])).apply(to: &state)
        #expect(state["new"] == nil)
        try StateMutation.mergePatch(["a": nil, "halt": true]).apply(to: &state)
        #expect(state["a"] == nil && state["halt"] == .bool(true))
        try StateMutation.jsonPatch([JSONPatch.Operation(op: "test", path: "/halt", value: true), JSONPatch.Operation(op: "remove", path: "/list")])
            .apply(to: &state)
        #expect(state == ["halt": true])
        try StateMutation.replace(["fresh": 1]).apply(to: &state)
        #expect(state == ["fresh": 1])
    }

    @Test func aFailingMutationSaysWhyAndLeavesTheStateAlone() {
        let before: JSONValue = ["halt": false, "name": "x"]
        let cases: [(StateMutation, StateMutationError.Kind)] = [
            (.delete(JSONPointer(tokens: ["missing"])), .notFound),
            (.increment(JSONPointer(tokens: ["name"]), by: 1), .notANumber),
            (.increment(JSONPointer(tokens: ["n"]), by: 1), .notANumber),  // set below, overflowing
            (.jsonPatch([JSONPatch.Operation(op: "test", path: "/halt", value: true)]), .testFailed),
            (.mergePatch([1, 2]), .malformed),
        ]
        for (mutation, kind) in cases {
            var state = before
            if case .increment(let pointer, _) = mutation, pointer.tokens == ["n"] { state = ["n": .int(.max)] }
            let original = state
            #expect(throws: StateMutationError.self) { try mutation.apply(to: &state) }
            do { try mutation.apply(to: &state) } catch { #expect(error.kind == kind, "\(mutation): \(error)") }
            #expect(state == original)
        }
    }

    @Test func theJSONFormRoundTripsAndRefusesWhatIsNotOne() throws {
        let mutations: [StateMutation] = [
            .set(Self.pointer, ["x": [1, "y", nil]]), .delete(Self.pointer), .increment(Self.pointer, by: -3),
            .increment(Self.pointer, by: .double(0.25)), .mergePatch(["halt": true]), .replace([1, 2]),
            .jsonPatch([JSONPatch.Operation(op: "move", path: "/b", from: "/a"), JSONPatch.Operation(op: "add", path: "/c", value: .null)]),
        ]
        for mutation in mutations {
            #expect(try StateMutation(json: mutation.json) == mutation)
            let request = QueuedRequest(id: QueueEntry.newID(), mutation: mutation, expectedVersion: 42)
            #expect(try QueuedRequest(bytes: request.bytes, id: request.id) == request)
        }
        let bad: [JSONValue] = [
            [], ["op": "explode"], ["op": "set", "path": "x", "value": 1], ["op": "set", "path": "/x"], ["op": "incr", "path": "/x", "by": "1"],
            ["op": "merge", "patch": [1]], ["op": "patch", "operations": [["op": "add"]]], ["op": 1],
        ]
        for value in bad {
            #expect(throws: StateMutationError.self, "\(value)") { try StateMutation(json: value) }
        }
        let id = QueueEntry.newID()
        for bytes in ["", "{", "[]", #"{"id":"other","mutation":{"op":"replace","value":1}}"#, #"{"id":"\#(id)"}"#,
            #"{"id":"\#(id)","mutation":{"op":"replace","value":1},"expectedVersion":-1}"#]
        {
            #expect(throws: StateMutationError.self, "\(bytes)") { try QueuedRequest(bytes: Array(bytes.utf8), id: id) }
        }
    }

    @Test func queueNamesAreReadBackAndNothingElseIs() {
        let id = QueueEntry.newID()
        #expect(QueueEntry.publisher(ofID: id) == getpid())
        let entries: [QueueEntry] = [.temp(id), .request(id), .claim(id, base: 0), .claim(id, base: .max), .done(id), .failed(id), .failedTemp(id)]
        for entry in entries { #expect(QueueEntry(name: entry.name) == entry) }
        for name in [
            "", ".", "x.req", id, id + ".", id + ".reqs", id + ".01.claim", id + "..claim", id + ".18446744073709551616.claim",
            id.uppercased() + ".req", String(id.dropLast()) + "g.req", id + ".req/", "../" + id + ".req",
        ] {
            #expect(QueueEntry(name: name) == nil, "\(name)")
        }
        // Names sort in publishing order.
        let later = QueueEntry.newID()
        #expect(id < later)
    }

    private static func header(_ version: UInt64, combined: [String]? = nil) -> StateFileHeader {
        var header = StateFileHeader.committing(store: "s", version: version, settings: StoreSettings(), stateBytes: [], label: "t")
        header.combined = combined
        return header
    }

    @Test func aDeadHoldersClaimIsSettledFromTheVersionsSince() {
        let none: (UInt64) -> StateFileHeader? = { _ in nil }
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(5), kept: none) == .notCommitted)
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(6, combined: ["q", "r"]), kept: none) == .committed)
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(6, combined: ["q"]), kept: none) == .notCommitted)
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(6), kept: none) == .notCommitted)
        // A writer that carries the list forward keeps it true.
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(9, combined: ["r"]), kept: none) == .committed)
        // Further on, the versions between must be kept to tell.
        if case .unknown = ClaimSettlement.decide(id: "r", base: 5, current: Self.header(8), kept: none) {} else { Issue.record("not unknown") }
        let kept: (UInt64) -> StateFileHeader? = { Self.header($0, combined: $0 == 7 ? ["r"] : nil) }
        #expect(ClaimSettlement.decide(id: "r", base: 5, current: Self.header(9), kept: kept) == .committed)
        #expect(ClaimSettlement.decide(id: "r", base: 7, current: Self.header(9), kept: kept) == .notCommitted)
        if case .unknown = ClaimSettlement.decide(id: "r", base: 5, current: Self.header(3), kept: kept) {} else { Issue.record("re-created store") }
    }
}

extension ProcessTests {
/// Real writer processes combining their updates, and holders killed at the steps that matter.
@Suite("Combining across processes")
struct CombiningProcessTests {
    let dir = TemporaryDirectory()

    private func acknowledged(_ output: String) -> [(version: UInt64, counter: Int64)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let version = UInt64(fields[0]), let counter = Int64(fields[1]) else { return nil }
            return (version, counter)
        }
    }

    @Test func eightProcessesApplyingIncrementsLoseNothingAndShareCommits() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let writers = try (0..<8).map { _ in try RunningHelper(["apply-incr", dir.path, "80"]) }
        var acknowledgements: [(version: UInt64, counter: Int64)] = []
        for writer in writers {
            let result = writer.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
            acknowledgements += acknowledged(result.stdout)
        }
        let final = try store.read()
        #expect(final.state["counter"]?.intValue == 640)
        #expect(acknowledgements.count == 640)
        // Each answer is the version that includes it: its counter is that version's.
        for (version, counter) in acknowledgements { #expect(counter >= 1 && counter <= 640 && version <= final.version) }
        #expect(final.version < 640, "no two processes' increments were ever committed together")
        // Every answer was collected: nothing is left in the queue.
        let left = try leftInQueue()
        #expect(left.isEmpty, "\(left)")
    }

    /// The queue's files, those in answers directories included (the directories themselves stay
    /// until their process is gone).
    private func leftInQueue() throws -> [String] {
        let queue = dir.path + "/state.queue"
        return try FileManager.default.contentsOfDirectory(atPath: queue).flatMap { name in
            name.hasSuffix(".answers") ? try FileManager.default.contentsOfDirectory(atPath: queue + "/" + name).map { name + "/" + $0 } : [name]
        }
    }

    /// Publishes a request for "counter" + 1 as another process would, and returns its ID.
    private func publish(_ store: StateStore<JSONValue>) throws -> String {
        let directory = try store.fileHandle!.openDirectory()
        let queue = try #require(try directory.mutationQueue(storeMode: 0o640, creating: true))
        let id = QueueEntry.newID()
        try queue.publish(QueuedRequest(id: id, mutation: .increment(JSONPointer(tokens: ["counter"]), by: 1), expectedVersion: nil), storeMode: 0o640)
        return id
    }

    private func answer(_ store: StateStore<JSONValue>, _ id: String) throws -> Result<StateSnapshot<JSONValue>, any Error>? {
        let queue = try #require(try store.fileHandle!.openDirectory().mutationQueue(storeMode: 0o640))
        guard let answers = queue.answers(for: id, creating: false) else { return nil }
        return queue.answer(for: id, in: answers.descriptor)
    }

    @Test func aHolderKilledAfterItsRenameIsSettledAsCommittedOnce() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let id = try publish(store)
        // Renames: the claim, then the state file; killed right after the second.
        let holder = try RunningHelper(["combine-crash", dir.path, "rename", "2"])
        #expect(holder.waitForExit().status == 42)
        let committed = try store.read()
        #expect(committed.state["counter"]?.intValue == 1 && committed.state["own"]?.intValue == 1)
        #expect(try answer(store, id) == nil, "answered before the holder died")
        // The next writer, of any kind, settles it: committed, in the version that lists it.
        try store.update { try $0.set(.bool(true), forKey: "touched") }
        let settled = try #require(try answer(store, id))
        #expect(try settled.get().version == committed.version)
        #expect(try store.read().state["counter"]?.intValue == 1)
        try store.apply(.set(JSONPointer(tokens: ["after"]), 1))
        #expect(try store.read().state["counter"]?.intValue == 1, "applied twice")
    }

    @Test func aHolderKilledBeforeItsRenameLeavesItToBeCommittedOnceByTheNext() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let id = try publish(store)
        // Killed after the temp file's fsync: claimed, never renamed.
        let holder = try RunningHelper(["combine-crash", dir.path, "fsync", "1"])
        #expect(holder.waitForExit().status == 42)
        #expect(try store.read().version == 0)
        try store.apply(.set(JSONPointer(tokens: ["next"]), 1))
        let settled = try #require(try answer(store, id))
        let snapshot = try settled.get()
        #expect(snapshot.state["counter"]?.intValue == 1 && snapshot.version == 1)
        #expect(try store.read().state["counter"]?.intValue == 1)
    }

    @Test func aHolderKilledWhileAnsweringIsSettledFromItsMarkerAndNeverQueuedAgain() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let id = try publish(store)
        // Renames: the claim, the state file, the claim to its answering marker; killed there.
        let holder = try RunningHelper(["combine-crash", dir.path, "rename", "3"])
        #expect(holder.waitForExit().status == 42)
        #expect(try answer(store, id) == nil)
        try store.update { try $0.set(.bool(true), forKey: "touched") }
        #expect(try #require(try answer(store, id)).get().state["counter"]?.intValue == 1)
        // A marker whose answer its waiter collected already (a refusal, say) is never queued again.
        let directory = try store.fileHandle!.openDirectory()
        let queue = try #require(try directory.mutationQueue(storeMode: 0o640))
        let second = try publish(store)
        let version = try store.read().version
        #expect(queue.claim(second, base: version, limit: 1 << 20) != nil && queue.beginAnswering(second, base: version))
        try store.apply(.set(JSONPointer(tokens: ["after"]), 1))
        #expect(try store.read().state["counter"]?.intValue == 1, "a request whose holder died answering it was applied again")
        if case .failure(let error as StateStoreError)? = try answer(store, second) { #expect(error.outcome == .unknown) } else {
            Issue.record("no unknown answer")
        }
    }

    @Test func requestsThatCancelOutAreCommittedInAVersionThatListsThem() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        try store.apply(.set(JSONPointer(tokens: ["counter"]), 0))
        let directory = try store.fileHandle!.openDirectory()
        let queue = try #require(try directory.mutationQueue(storeMode: 0o640, creating: true))
        let ids = [QueueEntry.newID(), QueueEntry.newID()]
        for (id, amount) in zip(ids, [1, -1] as [Int64]) {
            try queue.publish(QueuedRequest(id: id, mutation: .increment(JSONPointer(tokens: ["counter"]), by: .int(amount)), expectedVersion: nil), storeMode: 0o640)
        }
        try store.apply(.set(JSONPointer(tokens: ["counter"]), 0))  // this holder's own changes nothing, nor do +1 and -1
        let current = try store.fileHandle!.readCurrent()
        #expect(current.header.version == 2 && current.header.combined == ids)
        for id in ids { #expect(try #require(try answer(store, id)).get().version == 2) }
    }

    @Test func reCreatingTheStoreByForceAppliesNothingPublishedForTheOldOne() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let id = try publish(store)
        let recreated = try StateStore<JSONValue>.create(directory: dir.path, force: true)
        try recreated.apply(.set(JSONPointer(tokens: ["x"]), 1))
        #expect(try recreated.read().state["counter"] == nil)
        if case .failure(let error as StateStoreError)? = try answer(recreated, id) { #expect(error.outcome == .notCommitted) } else {
            Issue.record("the waiter of the old store was not answered")
        }
    }

    @Test func aClaimNoVersionCanSettleIsAnsweredUnknownAndNeverApplied() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let id = try publish(store)
        let directory = try store.fileHandle!.openDirectory()
        let queue = try #require(try directory.mutationQueue(storeMode: 0o640))
        // Taken at version 0 by a holder that died; then two versions by writers that do not settle.
        #expect(queue.claim(id, base: 0, limit: 1 << 20) != nil)
        let storeID = try store.read().storeID
        for version in 1...2 as ClosedRange<UInt64> {
            // As a writer of the format that knows nothing of the queue: a file renamed over the state.
            let stateBytes = Array("{\"v\":\(version)}\n".utf8)
            let header = StateFileHeader.committing(store: storeID, version: version, settings: StoreSettings(), stateBytes: stateBytes, label: "foreign")
            let temp = dir.path + "/.state.tmp-foreign"
            try Data(StateFileCodec.encode(header: header, stateBytes: stateBytes)).write(to: URL(fileURLWithPath: temp))
            #expect(rename(temp, dir.path + "/state.json") == 0)
        }
        try store.update { try $0.set(.bool(true), forKey: "settle") }
        let settled = try #require(try answer(store, id))
        #expect(throws: StateStoreError.self) { try settled.get() }
        if case .failure(let error as StateStoreError) = settled { #expect(error.outcome == .unknown) }
        #expect(try store.read().state["counter"] == nil)
    }

    /// In a sticky directory anyone may create `state.queue` first; requests in a queue others may
    /// write are never committed (the writers pass it over, and commit alone).
    @Test func aQueueOthersMayWriteIsNotUsed() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let path = dir.path + "/state.queue"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect(chmod(path, 0o777) == 0)
        let id = QueueEntry.newID()
        let request = QueuedRequest(id: id, mutation: .increment(JSONPointer(tokens: ["counter"]), by: 1000), expectedVersion: nil)
        try Data(request.bytes).write(to: URL(fileURLWithPath: path + "/" + QueueEntry.request(id).name))
        #expect(throws: StateStoreError.self) { try store.fileHandle!.openDirectory().mutationQueue(storeMode: 0o640) }
        try store.apply(.increment(JSONPointer(tokens: ["counter"]), by: 1))
        #expect(try store.read().state["counter"]?.intValue == 1, "a planted request was committed")
    }

    @Test func aWaiterThatTimesOutWithdrawsItsUpdate() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let holder = try RunningHelper(["hold-lock", dir.path, "2000"])
        #expect(holder.waitForLine { $0.contains("locked") })
        var options = StateStoreOptions()
        options.lockTimeout = .milliseconds(300)
        let waiting = try StateStore<JSONValue>(directory: dir.path, options: options)
        do {
            try waiting.apply(.increment(JSONPointer(tokens: ["counter"]), by: 10))
            Issue.record("committed while the lock was held")
        } catch let error as StateStoreError {
            #expect(error.code == .lockTimeout && error.outcome == nil)
        }
        let left = try leftInQueue()
        #expect(left.isEmpty, "\(left)")
        // The holder (which does not combine) commits its own increment only.
        #expect(holder.waitForExit().status == 0)
        try store.apply(.set(JSONPointer(tokens: ["x"]), 1))
        #expect(try store.read().state["counter"]?.intValue == 1)
    }
}
}
