import Foundation
import Synchronization
import SystemPackage
import Testing

@_spi(FaultInjection) @testable import StateCoordinator

/// The registry's corners, in one process: what a reader does when it cannot register, when its
/// entry vanishes, when a record write fails; what a lister does with leftovers; how a wait ends.
@Suite("Reader registry corners", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct ReaderRegistryCornerTests {
    let dir = TemporaryDirectory()

    func makeStore(_ options: StateStoreOptions = StateStoreOptions()) async throws -> StateStore<JSONValue> {
        _ = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        return try await StateStore<JSONValue>(directory: dir.path, options: options)
    }

    @Test func aReaderThatCannotWriteTheRegistryReadsUnregistered() async throws {
        let store = try await makeStore()
        // A file where the registry directory should be: no entry can be created under it.
        try "not a directory".write(toFile: dir.file("state.readers"), atomically: false, encoding: .utf8)
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        guard case .unregistered(let label, let error) = reader.registration else {
            Issue.record("registered: \(reader.registration)")
            return
        }
        #expect(label == "bot" && error.step == .registerReader && error.path?.hasSuffix("/state.readers") == true && error.errno == .notDirectory, "\(error)")
        let halted = try await store.update { try $0.set(true, forKey: "halt") }
        let seen = try await reader.wait { $0.version == halted.version }
        #expect(seen.state["halt"] == true, "it reads all the same")
        reader.acknowledge(seen)  // nothing to do, and no failure
        await #expect(throws: StateStoreError.self, "the registry is broken: said, not taken for empty") { try await store.readers() }
        let report = await store.waitForAcknowledgements(of: halted, timeout: .seconds(1))
        #expect(!report.isComplete && report.problem?.contains("Not a directory") == true, "\(report)")
    }

    @Test func statectlWatchSaysOnceThatItReadsUnregistered() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        try "not a directory".write(toFile: dir.file("state.readers"), atomically: false, encoding: .utf8)
        let result = try CLI(directory: dir.path)("watch", "--as", "bot", "--ack", "--count", "1")
        #expect(result.status == 0 && result.stdout.contains("\"version\":0"), "\(result)")
        #expect(result.oneDiagnosticLine && result.stderr.contains("register reader of \(dir.path)/state.readers"), "\(result.stderr)")
    }

    @Test func statectlSaysWhenNobodyCouldConfirmAndRefusesMalformedSelections() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let statectl = CLI(directory: dir.path)
        expectGolden(try statectl("set", "/halt", "true", "--await-ack", "all"), "await-ack-nobody")
        expectGolden(try statectl("set", "/halt", "true", "--await-ack"), "await-ack-without-value")
        expectGolden(try statectl("set", "/halt", "true", "--ack-timeout", "3"), "ack-timeout-alone")
        expectGolden(try statectl("set", "/halt", "true", "--await-ack", ",bot"), "await-ack-malformed")
        expectGolden(try statectl("set", "/halt", "true", "--await-ack", "bot", "--ack-timeout", "0.2"), "await-ack-missing-label")
        expectGolden(try statectl("readers"), "readers-none")
        expectGolden(try statectl("readers", "--json"), "readers-none-json")
        // Before the operands, too.
        let before = try statectl("set", "--await-ack", "all", "--json", "/halt", "false")
        #expect(before.status == 0 && before.stdout.contains("\"acknowledgements\""), "\(before)")
    }

    @Test func watchWithCountLeavesNoLiveEntryBehind() async throws {
        let store = try await makeStore()
        _ = try await store.update { try $0.set(true, forKey: "halt") }
        let result = try CLI(directory: dir.path)("watch", "--as", "once", "--ack", "--count", "1")
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        // It exits as soon as it has printed: its entry is removed on the way out or, if the exit
        // came first, found dead and removed by the next listing.
        #expect(try await store.readers().isEmpty)
        #expect(try dir.names(in: "state.readers").isEmpty)
    }

    @Test func invalidLabelsAreRefused() async throws {
        let store = try await makeStore()
        for label in ["", "tab\there", String(repeating: "x", count: 201)] {
            await #expect(throws: StateStoreError.self) { _ = try await StateObservation(label: label).reader(in: store) }
        }
        let result = try CLI(directory: dir.path)("watch", "--as", "")
        #expect(result.status == 2 && result.stderr.contains("--as takes a label"), "\(result)")
    }

    @Test func aReaderWhoseRegistryWasDeletedAndRecreatedRegistersAgain() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        let firstID = try #require(reader.registrationID)
        try FileManager.default.removeItem(atPath: dir.file("state.readers"))
        try FileManager.default.createDirectory(atPath: dir.file("state.readers"), withIntermediateDirectories: false)
        #expect(try await store.readers().isEmpty)
        let next = try await store.update { try $0.set(true, forKey: "halt") }
        _ = try await reader.wait { $0.version == next.version }
        reader.acknowledge(next)
        await reader.waitUntilReported()
        let listed = try await store.readers()
        #expect(listed.map(\.label) == ["bot"] && listed.first?.applied?.version == next.version, "\(listed)")
        #expect(listed.first?.id != firstID && reader.registrationID == listed.first?.id, "a new entry, never the old name")
        let report = await store.waitForAcknowledgements(of: next, timeout: .seconds(10))
        #expect(report.isComplete && report.applied.count == 1)
    }

    @Test func aFailedRecordWriteIsRetriedByTheNextMark() async throws {
        let failWrites = Atomic(false)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            if call == .rename, failWrites.load(ordering: .relaxed) { throw .noSpace }
        })
        let store = try await makeStore(options)
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        let current = try await store.read()
        reader.acknowledge(current)
        await reader.waitUntilReported()
        failWrites.store(true, ordering: .relaxed)
        reader.acknowledge(version: current.version + 1)
        await reader.waitUntilReported()
        #expect(try await store.readers().first?.applied?.version == current.version, "the old record stands")
        failWrites.store(false, ordering: .relaxed)
        reader.acknowledge(version: current.version + 2)
        await reader.waitUntilReported()
        #expect(try await store.readers().first?.applied?.version == current.version + 2)
    }

    @Test func aReaderWhoseLivenessCannotBeToldIsNeverCalledDead() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        // A writer whose flock calls fail (as for a lock file it may not lock): it cannot tell.
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            if call == .flock { throw .tooManyOpenFiles }
        })
        let lister = try await StateStore<JSONValue>(directory: dir.path, options: options)
        let listed = try await lister.readers()
        #expect(listed.map(\.label) == ["bot"] && listed.first?.problem?.contains("liveness unknown") == true, "\(listed)")
        let report = await lister.waitForAcknowledgements(of: try await store.read(), timeout: .milliseconds(300))
        #expect(report.lagging.map(\.label) == ["bot"] && report.died.isEmpty && !report.isComplete, "\(report)")
        #expect(try dir.names(in: "state.readers").count == 2, "nothing removed")
    }

    /// A dead entry (its lock file held by nobody) and a record without lock file.
    func plantDeadEntries() throws {
        let registry = dir.file("state.readers")
        _ = FileManager.default.createFile(atPath: registry + "/99-00000000000000aa.lock", contents: nil)
        try #"{"format":1,"label":"ghost","pid":99,"host":"h","registeredAt":1,"updatedAt":1}"#
            .write(toFile: registry + "/99-00000000000000aa.json", atomically: false, encoding: .utf8)
        try "{}".write(toFile: registry + "/98-00000000000000bb.json", atomically: false, encoding: .utf8)
    }

    @Test func listingRemovesDeadEntriesAndLeftoversButNeverALiveOne() async throws {
        let store = try await makeStore()
        let live = try await StateObservation(label: "live").reader(in: store)
        defer { live.close() }
        let registry = dir.file("state.readers")
        // Dead entries, a stray temp file, and a foreign file the registry does not own.
        try plantDeadEntries()
        try "{}".write(toFile: registry + "/97-00000000000000cc.json.tmp", atomically: false, encoding: .utf8)
        try "keep".write(toFile: registry + "/README", atomically: false, encoding: .utf8)
        let listed = try await store.readers()
        #expect(listed.map(\.label) == ["live"])
        let id = try #require(live.registrationID)
        let left = try dir.names(in: "state.readers")
        #expect(left == [id + ".json", id + ".lock", "README"], "\(left)")
    }

    /// Read-only means read-only: a ``ReadOnlyStateStore`` (the sidecar's) lists, verifies and
    /// looks for orphans without one `unlink`, `rename` or `link`, and without the writer lock
    /// (its liveness probe of a reader's lock file is released at once), and leaves the dead
    /// entries it sees to writers and registrants.
    @Test func aReadOnlyStoreNeverWritesNorTakesTheWriterLock() async throws {
        let store = try await makeStore()
        let live = try await StateObservation(label: "live").reader(in: store)
        defer { live.close() }
        try plantDeadEntries()
        try plantOldFile(dir.file(".state.tmp-left"))
        let registryBefore = try dir.names(in: "state.readers")
        let forbidden = Mutex<[SystemCallName]>([])
        let lockFile = try #require(FileManager.default.attributesOfItem(atPath: dir.file("state.lock"))[.systemFileNumber] as? UInt64)
        var options = StateStoreOptions()
        var calls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            if call == .unlink || call == .rename || call == .link { forbidden.withLock { $0.append(call) } }
        })
        let probe = calls.flock
        calls.flock = { (fd, operation) throws(Errno) in
            if (try? SystemCalls.live.fstat(fd))?.inode == lockFile { forbidden.withLock { $0.append(.flock) } }
            try probe(fd, operation)
        }
        options.systemCalls = calls
        let lister = try await ReadOnlyStateStore<JSONValue>(directory: dir.path, options: options)
        #expect(try await lister.readers().map(\.label) == ["live"])
        #expect(try await lister.orphanTempFiles() == [".state.tmp-left"])
        let report = await lister.verify()
        #expect(report.problems.contains { $0.kind == .orphanTempFile }, "\(report)")
        #expect(forbidden.withLock { $0 }.isEmpty, "\(forbidden.withLock { $0 })")
        #expect(try dir.names(in: "state.readers") == registryBefore, "nothing removed")
        #expect(FileManager.default.fileExists(atPath: dir.file(".state.tmp-left")))
        // A writer's listing sweeps.
        #expect(try await store.readers().map(\.label) == ["live"])
        #expect(try dir.names(in: "state.readers").count == 2)
    }

    @Test func aLiveEntryWithAGarbledRecordIsListedWithoutCrashing() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        let id = try #require(reader.registrationID)
        try "{\"label\": 12".write(toFile: dir.file("state.readers/\(id).json"), atomically: false, encoding: .utf8)
        let listed = try await store.readers()
        #expect(listed.map(\.id) == [id] && listed.first?.label == "")
        let result = try CLI(directory: dir.path)("readers")
        #expect(result.status == 0 && result.stdout.contains("is not a reader record"), "\(result)")
    }

    @Test func aWaitForALabelNobodyHasTimesOutNamingIt() async throws {
        let store = try await makeStore()
        let snapshot = try await store.update { try $0.set(true, forKey: "halt") }
        let report = await store.waitForAcknowledgements(of: snapshot, from: .labels(["ghost"]), timeout: .milliseconds(200))
        #expect(!report.isComplete && report.timedOut && report.missingLabels == ["ghost"])
        #expect(report.waited >= .milliseconds(200))
    }

    @Test func aLabelThatRegistersDuringTheWaitIsCounted() async throws {
        let store = try await makeStore()
        let snapshot = try await store.update { try $0.set(true, forKey: "halt") }
        async let report = store.waitForAcknowledgements(of: snapshot, from: .labels(["late"]), timeout: .seconds(30))
        let reader = try await StateObservation(label: "late").reader(in: store)
        defer { reader.close() }
        reader.acknowledge(reader.current)
        let result = await report
        #expect(result.isComplete && result.applied.map(\.label) == ["late"], "\(result)")
    }

    @Test func versionZeroIsNotAppliedByAReaderThatAcknowledgedNothing() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "silent").reader(in: store)
        defer { reader.close() }
        let initial = try await store.read()
        #expect(initial.version == 0)
        let report = await store.waitForAcknowledgements(of: initial, timeout: .milliseconds(100))
        #expect(report.lagging.map(\.label) == ["silent"] && report.applied.isEmpty, "\(report)")
        reader.acknowledge(initial)
        #expect(await store.waitForAcknowledgements(of: initial, timeout: .seconds(10)).isComplete)
    }

    @Test func cancellingAWaitEndsItAtOnce() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "silent").reader(in: store)  // never acknowledges
        defer { reader.close() }
        let snapshot = try await store.update { try $0.set(true, forKey: "halt") }
        let started = ContinuousClock.now
        let wait = Task { await store.waitForAcknowledgements(of: snapshot, timeout: .seconds(60)) }
        #expect(await eventually { (try? store.readers().first?.loaded?.version) == snapshot.version })
        wait.cancel()
        let report = await wait.value
        #expect(report.timedOut && report.lagging.map(\.label) == ["silent"])
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func aWatchAcknowledgesAfterEachIterationOnlyWhenAsked() async throws {
        let store = try await makeStore()
        let automatic = StateObservation(label: "auto", acknowledgement: .afterEachIteration).events(in: store)
        let manual = StateObservation(label: "manual").events(in: store)
        var autoIterator = automatic.makeAsyncIterator()
        var manualIterator = manual.makeAsyncIterator()
        guard case .snapshot(let first)? = await autoIterator.next(), case .snapshot? = await manualIterator.next() else {
            Issue.record("no first version")
            return
        }
        var readers = try await store.readers()
        #expect(readers.first { $0.label == "auto" }?.applied == nil, "not before its loop body finished")
        let next = try await store.update { try $0.set(true, forKey: "halt") }
        _ = await autoIterator.next()  // the body of the first version finished: it is applied
        _ = await manualIterator.next()
        await automatic.waitUntilReported()
        await manual.waitUntilReported()  // its load of the new version is written on the registration's thread
        readers = try await store.readers()
        #expect(readers.first { $0.label == "auto" }?.applied?.version == first.version)
        #expect(readers.first { $0.label == "manual" }?.applied == nil)
        #expect(readers.first { $0.label == "manual" }?.loaded?.version == next.version, "the library reports what it loaded")
        manual.acknowledge(next)
        await manual.waitUntilReported()
        #expect(try await store.readers().first { $0.label == "manual" }?.applied?.version == next.version)
    }

    @Test func aClosedReaderRemovesItsEntry() async throws {
        let store = try await makeStore()
        let reader = try await StateObservation(label: "bot").reader(in: store)
        #expect(try await store.readers().count == 1)
        reader.close()
        await reader.waitUntilReported()  // returns: nothing is left to write
        #expect(await eventually { (try? dir.names(in: "state.readers"))?.isEmpty == true })
    }
}
