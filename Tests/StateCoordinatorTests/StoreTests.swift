import Foundation
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

struct Risk: Codable, Sendable, Equatable {
    var halt = false
    var maxPosition: Int64 = 100
}

@Suite("Store basics")
struct StoreTests {
    let dir = TemporaryDirectory()

    @Test func newUntypedStoreStartsAsEmptyObjectAtVersionZero() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let snapshot = try store.read()
        #expect(snapshot.version == 0)
        #expect(snapshot.state == .object([:]))
        #expect(snapshot.writer.pid == getpid())
        #expect(try dir.names() == ["state.json", "state.lock"])
    }

    @Test func snapshotsSayWhenThisProcessGotThem() async throws {
        let before = Date()
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        let committed = try await store.update { $0.halt = true }
        let read = try await store.read()
        let after = Date()
        #expect(before <= committed.loadedAt && committed.loadedAt <= read.loadedAt && read.loadedAt <= after)
        #expect(read.version == committed.version)
    }

    @Test func typedUpdateCommitsNextVersionAndReturnsResult() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk(), options: .init(label: "bot-1"))
        let updated = try await store.updateWithResult { risk -> Bool in
            defer { risk.halt = true }
            return risk.halt
        }
        let snapshot = updated.snapshot
        #expect(updated.value == false)
        #expect(snapshot.version == 1)
        #expect(snapshot.state.halt)
        #expect(snapshot.writer.label == "bot-1")
        await #expect(try store.read().state == Risk(halt: true, maxPosition: 100))
    }

    @Test func throwingMutationCommitsNothing() async throws {
        struct Refused: Error {}
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        await #expect(throws: Refused.self) {
            try await store.update { risk in
                risk.halt = true
                throw Refused()
            }
        }
        await #expect(try store.read().version == 0)
        await #expect(try store.read().state.halt == false)
    }

    @Test func compareAndSwapConflictCarriesCurrentVersion() async throws {
        let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
        _ = try await store.update { $0.maxPosition = 5 }
        let error = await #expect(throws: StateStoreError.self) {
            try await store.update(expecting: 0) { $0.maxPosition = 7 }
        }
        #expect(error?.code == .conflict)
        #expect(error?.currentVersion == 1)
        let snapshot = try await store.update(expecting: 1) { $0.maxPosition = 7 }
        #expect(snapshot.version == 2)
        #expect(snapshot.state.maxPosition == 7)
    }

    @Test func replaceAndBlockingForms() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let snapshot = try store.replace(with: ["halt": true, "limits": [1, 2.5, "x", nil]])
        #expect(snapshot.version == 1)
        #expect(try store.read().state == ["halt": true, "limits": [1, 2.5, "x", nil]])
        #expect(throws: StateStoreError.self) { try store.replace(with: [:], expecting: 0) }
    }

    @Test func anyJSONValueCanBeTheState() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, initial: [1, 2, 3])
        #expect(try store.read().state == [1, 2, 3])
        try store.replace(with: "just a string")
        #expect(try store.read().state == "just a string")
    }

    @Test func reentrantUpdateFailsInsteadOfDeadlocking() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let other = try StateStore<JSONValue>(directory: dir.path)
        let inner = try store.updateWithResult { state -> String in
            let sameInstance = Result { try store.update { try $0.set(1, forKey: "x") } }
            let otherInstance = Result { try other.update { try $0.set(2, forKey: "x") } }
            try state.set(1, forKey: "y")
            return [sameInstance, otherInstance].map { result in
                guard case .failure(let error as StateStoreError) = result else { return "committed" }
                return error.code.rawValue
            }.joined(separator: ",")
        }
        #expect(inner.value == "re-entrant update,re-entrant update")
        #expect(try store.read().version == 1)
        #expect(try store.read().state == ["y": 1])
    }

    @Test func openingAMissingStoreCreatesNothing() throws {
        let error = #expect(throws: StateStoreError.self) { try StateStore<JSONValue>(directory: dir.path) }
        #expect(error?.code == .notFound)
        #expect(error?.hint?.contains("statectl init") == true)
        #expect(try dir.names().isEmpty)
        let missing = #expect(throws: StateStoreError.self) { try StateStore<JSONValue>(directory: dir.file("nope")) }
        #expect(missing?.code == .notFound)
    }

    @Test func creatingOverAnExistingStoreIsRefusedWithoutForce() throws {
        try StateStore<JSONValue>.create(directory: dir.path, initial: ["keep": true])
        let before = try dir.contents("state.json")
        let error = #expect(throws: StateStoreError.self) { try StateStore<JSONValue>.create(directory: dir.path) }
        #expect(error?.code == .alreadyExists)
        #expect(try dir.contents("state.json") == before)
    }

    @Test func forcedRecreateGetsNewIdentityAndContinuesNumbering() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 2))
        for n in 1...5 { try store.replace(with: ["n": .int(Int64(n))]) }
        let oldIdentity = try store.read().storeID
        // Corrupt it: the header's version (5) is still readable, the checksum is not.
        var bytes = try dir.contents("state.json")
        bytes[bytes.count - 2] = UInt8(ascii: "x")
        try bytes.write(to: URL(fileURLWithPath: dir.file("state.json")))
        #expect(throws: StateStoreError.self) { try store.read() }
        let recreated = try StateStore<JSONValue>.create(directory: dir.path, initial: ["fresh": true], force: true)
        let snapshot = try recreated.read()
        #expect(snapshot.version == 6)
        #expect(snapshot.storeID != oldIdentity)
    }

    @Test func forcedRecreateUsesHistoryWhenTheHeaderIsGone() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        for n in 1...4 { try store.replace(with: ["n": .int(Int64(n))]) }
        try Data("not even json".utf8).write(to: URL(fileURLWithPath: dir.file("state.json")))
        let recreated = try StateStore<JSONValue>.create(directory: dir.path, force: true)
        #expect(try recreated.read().version == 4)  // history kept 1...3
    }

    @Test func importsAFileWrittenByTheOriginalPythonBot() throws {
        let legacy = dir.file("trading_state.json")
        let script = """
            import json, os, tempfile
            state = {"positions": {"AAPL": 10}, "halt": False, "big": 9223372036854775807, "px": 101.25}
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(\(String(reflecting: legacy))))
            with os.fdopen(fd, "w") as f:
                json.dump(state, f)
                f.flush(); os.fsync(f.fileno())
            os.replace(tmp, \(String(reflecting: legacy)))
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let storeDir = TemporaryDirectory()
        let store = try StateStore<JSONValue>.importPlainJSON(from: legacy, directory: storeDir.path)
        let snapshot = try store.read()
        #expect(snapshot.version == 0)
        #expect(snapshot.state["big"] == .int(Int64.max))
        #expect(snapshot.state["px"] == .double(101.25))
        #expect(snapshot.state["positions"] == ["AAPL": 10])
    }

    @Test func importReadsFilesLargerThanOneReadAndRefusesOnesAboveTheLimit() throws {
        let legacy = dir.file("big.json")
        let payload = String(repeating: "x", count: 300 << 10)  // several read steps
        try Data("{\"p\":\"\(payload)\"}".utf8).write(to: URL(fileURLWithPath: legacy))
        let storeDir = TemporaryDirectory()
        let store = try StateStore<JSONValue>.importPlainJSON(from: legacy, directory: storeDir.path)
        #expect(try store.read().state["p"] == .string(payload))
        let small = TemporaryDirectory()
        let error = #expect(throws: StateStoreError.self) {
            try StateStore<JSONValue>.importPlainJSON(
                from: legacy, directory: small.path, settings: StoreSettings(maximumStateBytes: 200 << 10))
        }
        #expect(error?.code == .tooLarge)
        #expect(try small.names().isEmpty)
    }

    @Test func importOfInvalidJSONSaysWhereAndCreatesNothing() throws {
        let legacy = dir.file("broken.json")
        try Data("{\"a\": 1,\n \"b\": }".utf8).write(to: URL(fileURLWithPath: legacy))
        let storeDir = TemporaryDirectory()
        let error = #expect(throws: StateStoreError.self) {
            try StateStore<JSONValue>.importPlainJSON(from: legacy, directory: storeDir.path)
        }
        #expect(error?.code == .badState)
        #expect(error?.message.contains("line 2") == true)
        #expect(try storeDir.names().isEmpty)
    }

    @Test func anInPlaceWriteBetweenTwoCommitsOfOneProcessIsNotMissed() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        try store.replace(with: ["balance": 100])
        // Same length, same inode: only the change time tells the file was touched.
        var bytes = try dir.contents("state.json")
        bytes[bytes.count - 3] = UInt8(ascii: "9")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("state.json")))
        try handle.write(contentsOf: bytes)
        try handle.close()
        let error = #expect(throws: StateStoreError.self) { try store.replace(with: ["balance": 0]) }
        #expect(error?.code == .corrupt)
        #expect(try dir.contents("state.json") == bytes)
    }

    @Test func plainJSONInPlaceOfTheStateFileIsReportedNotOverwritten() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        try Data("{\"halt\": true}".utf8).write(to: URL(fileURLWithPath: dir.file("state.json")))
        let readError = #expect(throws: StateStoreError.self) { try store.read() }
        #expect(readError?.code == .unverifiable)
        let updateError = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(1, forKey: "x") } }
        #expect(updateError?.code == .unverifiable)
        #expect(try dir.contents("state.json") == Data("{\"halt\": true}".utf8))
    }

    @Test func symlinkedStateFileOrLockfileIsRefused() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let target = dir.file("elsewhere.json")
        try FileManager.default.moveItem(atPath: dir.file("state.json"), toPath: target)
        try FileManager.default.createSymbolicLink(atPath: dir.file("state.json"), withDestinationPath: target)
        let readError = #expect(throws: StateStoreError.self) { try store.read() }
        #expect(readError?.code == .symbolicLink)
        let updateError = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(1, forKey: "x") } }
        #expect(updateError?.code == .symbolicLink)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("state.json")) == target)

        try FileManager.default.removeItem(atPath: dir.file("state.json"))
        try FileManager.default.moveItem(atPath: target, toPath: dir.file("state.json"))
        try FileManager.default.moveItem(atPath: dir.file("state.lock"), toPath: dir.file("real.lock"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("state.lock"), withDestinationPath: dir.file("real.lock"))
        let lockError = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(1, forKey: "x") } }
        #expect(lockError?.code == .symbolicLink)
        #expect(lockError?.step == .openLockfile)
        await #expect(try store.read().version == 0)
    }

    @Test func modeOfTheReplacedFileSticksWhateverTheUmask() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(fileMode: 0o640))
        #expect(try permissions("state.json") == 0o640)
        #expect(try permissions("state.lock") == 0o600, "the lockfile is the writers' alone")
        try FileManager.default.setAttributes([.posixPermissions: 0o604], ofItemAtPath: dir.file("state.json"))
        let old = umask(0o077)
        defer { umask(old) }
        try store.replace(with: ["a": 1])
        #expect(try permissions("state.json") == 0o604)
    }

    @Test func rootKeepsOwnerAndGroupOfTheReplacedFile() throws {
        try #require(geteuid() == 0, "needs root to chown")
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        #expect(chown(dir.file("state.json"), 4242, 4343) == 0)
        try store.replace(with: ["a": 1])
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.file("state.json"))
        #expect(attributes[.ownerAccountID] as? Int == 4242)
        #expect(attributes[.groupOwnerAccountID] as? Int == 4343)
    }

    @Test func sizeLimitIsEnforcedOnWriteAndNothingIsCommitted() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(maximumStateBytes: 64))
        let error = #expect(throws: StateStoreError.self) {
            try store.replace(with: .string(String(repeating: "x", count: 100)))
        }
        #expect(error?.code == .tooLarge)
        #expect(try store.read().version == 0)
        #expect(try dir.tempFiles().isEmpty)
    }

    @Test func sizeLimitIsEnforcedOnRead() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(maximumStateBytes: 1024))
        // A foreign writer appends far beyond the limit recorded in the header.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("state.json")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 0x20, count: 200_000))
        try handle.close()
        let error = #expect(throws: StateStoreError.self) { try store.read() }
        #expect(error?.code == .tooLarge)
    }

    @Test func historyKeepsTheLastNAndRollbackCommitsAnOldState() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        for value in 1...5 { _ = try await store.replace(with: ["v": .int(Int64(value))]) }
        let history = try await store.history()
        #expect(history.map(\.version) == [4, 3, 2])
        await #expect(try store.snapshot(atVersion: 3).state == ["v": 3])
        let missing = #expect(throws: StateStoreError.self) { try store.snapshot(atVersion: 1) }
        #expect(missing?.code == .notFound)
        let rolledBack = try await store.rollback(to: 3)
        #expect(rolledBack.version == 6)
        await #expect(try store.read().state == ["v": 3])
        // The outgoing version is kept as a hard link: the same inode, no copy.
        let inode = try inodeNumber("state.json")
        try await store.replace(with: ["v": 7])
        #expect(try inodeNumber("state.history/00000000000000000006.json") == inode)
        let tooOld = await #expect(throws: StateStoreError.self) { try await store.rollback(to: 1) }
        #expect(tooOld?.code == .notFound)
    }

    @Test func networkFileSystemIsRefusedForWritingUnlessOptedIn() throws {
        try StateStore<JSONValue>.create(directory: dir.path)
        var options = StateStoreOptions()
        options.systemCalls.fstatfs = { _ in 0x6969 }  // NFS_SUPER_MAGIC
        let error = #expect(throws: StateStoreError.self) { try StateStore<JSONValue>(directory: dir.path, options: options) }
        #expect(error?.code == .networkFileSystem)
        #expect(error?.message.contains("NFS") == true)
        options.allowNetworkFileSystem = true
        #expect(throws: Never.self) { try StateStore<JSONValue>(directory: dir.path, options: options) }
        options.allowNetworkFileSystem = false
        #expect(throws: Never.self) { try ReadOnlyStateStore<JSONValue>(directory: dir.path, options: options) }
    }

    @Test func typedStoreReportsAStateOfAnotherShape() throws {
        try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": "yes"])
        let error = #expect(throws: StateStoreError.self) { try StateStore<Risk>(directory: dir.path).read() }
        #expect(error?.code == .badState)
    }

    private func inodeNumber(_ name: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: dir.file(name))[.systemFileNumber] as! Int
    }

    private func permissions(_ name: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: dir.file(name))[.posixPermissions] as! Int
    }
}
