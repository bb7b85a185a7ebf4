import Foundation
import Testing

import Synchronization
import SystemPackage

@testable @_spi(FaultInjection) import StateCoordinator

/// A foreign writer in the store's place: a state file whose checksum holds but whose bytes are
/// not JSON is damage; a plain-JSON `os.replace` over a live store is named as an overwrite of
/// that store's version and repaired by `statectl recover`; a bot's own file is imported where it
/// lies, under its own name.
@Suite("Foreign writes and their recovery")
struct ForeignWriteTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    /// Replaces `NAME.json` as a foreign writer would: `os.replace` of a temp file.
    private func foreignReplace(_ text: String, name: String = "state") throws {
        let python = try RunningHelper(
            ["python3", "-c", "import os, sys; open(sys.argv[1] + '.tmp', 'w').write(sys.argv[2]); os.replace(sys.argv[1] + '.tmp', sys.argv[1])",
             dir.file(name + ".json"), text],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        python.closeInput()
        #expect(python.waitForExit().status == 0)
    }

    /// A version written with a correct header and checksum over bytes that are not JSON.
    private func commitNotJSON(_ state: String) throws {
        let script = """
            import hashlib, json, os, sys
            path, body = sys.argv[1], sys.argv[2].encode() + b"\\n"
            header = json.loads(open(path, "rb").read().split(b"\\n", 1)[0])
            header.update(version=header["version"] + 1, stateBytes=len(body), checksum="sha256:" + hashlib.sha256(body).hexdigest())
            open(path + ".tmp", "wb").write(json.dumps(header, separators=(",", ":")).encode() + b"\\n" + body)
            os.replace(path + ".tmp", path)
            """
        let python = try RunningHelper(["python3", "-c", script, dir.file("state.json"), state], executable: URL(fileURLWithPath: "/usr/bin/env"))
        python.closeInput()
        #expect(python.waitForExit().status == 0)
    }

    // MARK: Item 4

    /// Before the fix `get` exited 1 with "Fix the JSON; nothing was committed", and verify said ok.
    @Test func aVersionWhoseBytesAreNotJSONIsDamage() throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        #expect(try statectl("set", "/x", "1").status == 0)
        #expect(try statectl("set", "/x", "2").status == 0)
        try commitNotJSON(#"{"x":1,}"#)
        for command in [["get"], ["status"], ["watch", "--count", "1", "--timeout", "5"]] {
            let result = try statectl.run(["--dir", dir.path] + command)
            #expect(result.status == 5, "\(command): \(result)")
            #expect(result.stderr.contains("version 3 passes its checksum but its state is not JSON"), "\(command): \(result)")
        }
        let verify = try statectl("verify")
        #expect(verify.status == 5 && verify.stdout.contains("not JSON"), "\(verify)")
        let report = try ReadOnlyStateStore<JSONValue>.verify(directory: dir.path)
        #expect(report.damage.map(\.kind) == [.stateNotJSON])
        #expect(throws: StateStoreError.self) { try StateStore<JSONValue>(directory: dir.path).update { try $0.set(1, forKey: "y") } }

        // The hint's command brings the last kept version (1: a foreign writer linked nothing) back
        // above the damaged one.
        let restored = try statectl("recover", "--restore")
        #expect(restored.status == 0 && restored.stdout == "4\n", "\(restored)")
        #expect(try statectl("get", "/x").stdout == "1\n")
        #expect(try statectl("verify").status == 0)
    }

    // MARK: Item 5

    @Test(.timeLimit(.minutes(1)))
    func aPlainJSONOverwriteOfALiveStoreIsNamedByEveryCommandAndTheReaders() async throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        for n in 1...3 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        let store = try await StateStore<JSONValue>(directory: dir.path)
        let id = try await store.read().storeID
        var watch = StateObservation(.latest).events(in: store).makeAsyncIterator()
        guard case .snapshot(let first)? = await watch.next(), first.version == 3 else {
            Issue.record("no first version")
            return
        }
        try foreignReplace(#"{"n": 99, "legacy": true}"#)
        let expected = "store \(id) was at version 3, and version 2 is still kept"
        for command in [["get"], ["status"], ["set", "/n", "4"], ["history"]] {
            let result = try statectl.run(["--dir", dir.path] + command)
            #expect(result.status == 5 && result.stderr.contains(expected) && result.oneDiagnosticLine, "\(command): \(result)")
        }
        let verify = try statectl("verify")
        #expect(verify.status == 5 && verify.stdout.contains(expected), "\(verify)")
        var seen: StateStoreError?
        while let event = await watch.next() {
            if case .problem(let error) = event {
                seen = error
                break
            }
        }
        #expect(seen?.message.contains(expected) == true, "the reader says it too: \(String(describing: seen))")
    }

    @Test func recoverAdoptMakesThePlainContentTheNextVersionWithSettingsAndSchemaCarried() throws {
        try Data(#"{"type": "object", "properties": {"n": {"type": "integer"}}}"#.utf8).write(to: URL(fileURLWithPath: dir.file("s.json")))
        #expect(try statectl("init", "--keep-history", "5", "--mode", "0600", "--schema", dir.file("s.json")).status == 0)
        for n in 1...3 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        let id = try StateStore<JSONValue>(directory: dir.path).read().storeID

        try foreignReplace(#"{"n": "not a number"}"#)
        let refused = try statectl("recover", "--adopt")
        #expect(refused.status == 11, "the carried schema refuses it: \(refused)")

        try foreignReplace(#"{"n": 99}"#)
        let dryRun = try statectl("recover", "--adopt", "--dry-run")
        #expect(dryRun.status == 0 && dryRun.stdout.contains("would make the plain JSON content version 4 of store \(id) over version 3"), "\(dryRun)")
        #expect(try statectl("get").status == 5, "a dry run changes nothing")

        let adopted = try statectl("recover", "--adopt")
        #expect(adopted.status == 0 && adopted.stdout == "4\n", "\(adopted)")
        let snapshot = try StateStore<JSONValue>(directory: dir.path).read()
        #expect(snapshot.storeID == id && snapshot.state == ["n": 99])
        #expect(snapshot.settings.keepHistory == 5 && snapshot.settings.fileMode == 0o600 && snapshot.settings.schema != nil)
        let kept = try #require(try dir.names().first { $0.hasPrefix("state.replaced-") })
        #expect(try dir.contents(kept) == Data(#"{"n": 99}"#.utf8), "the foreign file is kept")
        #expect(try statectl("verify").status == 0)
        #expect(try statectl("set", "/n", "5").stdout == "5\n")
    }

    @Test func recoverRestoreBringsBackTheLastKeptVersion() throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        for n in 1...3 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        try foreignReplace(#"{"n": 99}"#)
        let restored = try statectl("recover", "--restore")
        #expect(restored.status == 0 && restored.stdout == "4\n", "\(restored)")
        #expect(restored.stderr.contains("kept version 2"), "\(restored)")
        #expect(try statectl("get", "/n").stdout == "2\n")
        #expect(try statectl("recover", "--restore").status == 2, "nothing left to recover")
    }

    @Test func withHistoryOffTheLockfileStillTellsAnOverwriteFromAFirstImport() throws {
        #expect(try statectl("init").status == 0)
        try foreignReplace(#"{"n": 1}"#)
        let get = try statectl("get")
        #expect(get.status == 5 && get.stderr.contains("lockfile") && get.stderr.contains("no kept version survives"), "\(get)")
        #expect(try statectl("recover", "--restore").status == 6, "nothing kept to restore")
        let adopted = try statectl("recover", "--adopt")
        #expect(adopted.status == 0 && adopted.stdout == "0\n" && adopted.stderr.contains("new identity"), "\(adopted)")
        var status = stat()
        #expect(stat(dir.file("state.json"), &status) == 0 && status.st_mode & 0o777 == 0o640, "readable by the store's group again, not the lockfile's 0600")
    }

    /// A state file whose header cannot be read hides its version: the recovery numbers above the
    /// version after the newest kept one, never a version readers may hold already.
    @Test func aRecoveryOverAnUnreadableHeaderNumbersAboveEveryVersionReadersMayHold() throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        for n in 1...3 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        truncate(dir.file("state.json"), 0)
        let restored = try statectl("recover", "--restore")
        #expect(restored.status == 0 && restored.stdout == "4\n", "version 3 was current, however empty its file is now: \(restored)")
        #expect(try statectl("get", "/n").stdout == "2\n")
    }

    @Test func withHistoryOffAdoptCarriesTheStoresOnlySchema() throws {
        try Data(#"{"type": "object", "properties": {"halt": {"type": "boolean"}}}"#.utf8).write(to: URL(fileURLWithPath: dir.file("s.json")))
        #expect(try statectl("init", "--schema", dir.file("s.json")).status == 0)
        #expect(try statectl("put", stdin: #"{"halt": false}"#).status == 0)
        try foreignReplace(#"{"halt": 1}"#)
        let refused = try statectl("recover", "--adopt")
        #expect(refused.status == 11, "the schema file still there is carried, and refuses it: \(refused)")
        try foreignReplace(#"{"halt": true}"#)
        let dryRun = try statectl("recover", "--adopt", "--dry-run")
        #expect(dryRun.stdout.contains("the store's only schema file") && dryRun.stdout.contains("new identity"), "\(dryRun)")
        #expect(try statectl("recover", "--adopt").status == 0)
        #expect(try ReadOnlyStateStore<JSONValue>(directory: dir.path).read().settings.schema != nil)
    }

    /// A foreign writer takes no lock: its write between the recovery's read and its swap is not
    /// lost, and the outcome says so.
    @Test func aForeignWriteDuringTheRecoveryIsKeptNotLost() throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        for n in 1...2 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        try foreignReplace(#"{"n": 98}"#)
        let path = dir.file("state.json")
        let raced = Atomic(false)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            guard call == .exchange, !raced.exchange(true, ordering: .relaxed) else { return }
            let newer = path + ".newer"
            _ = FileManager.default.createFile(atPath: newer, contents: Data(#"{"n": 99}"#.utf8))
            rename(newer, path)
        })
        let outcome = try StateStore<JSONValue>.recover(directory: dir.path, .adopt, options: options)
        #expect(outcome.replacedAgain && outcome.description.contains("replaced the file again"), "\(outcome)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: try #require(outcome.keptAs))) == Data(#"{"n": 99}"#.utf8), "the newest foreign write is kept")
        #expect(try statectl("get", "/n").stdout == "98\n")
    }

    // MARK: Item 6

    /// The bot writes again between the import's read and its swap: the import is undone, the
    /// bot's newest file is back in place, and no lockfile is left to look like a store.
    @Test func aBotThatWritesDuringTheImportMakesItFailWithNothingLost() throws {
        let path = dir.file("trading_state.json")
        try Data(#"{"position": 1}"#.utf8).write(to: URL(fileURLWithPath: path))
        let raced = Atomic(false)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            guard call == .exchange, !raced.exchange(true, ordering: .relaxed) else { return }
            _ = FileManager.default.createFile(atPath: path + ".newer", contents: Data(#"{"position": 2}"#.utf8))
            rename(path + ".newer", path)
        })
        let error = #expect(throws: StateStoreError.self) {
            try StateStore<JSONValue>.importPlainJSON(from: path, directory: dir.path, name: "trading_state", options: options)
        }
        #expect(error?.code == .conflict, "\(String(describing: error))")
        #expect(try dir.contents("trading_state.json") == Data(#"{"position": 2}"#.utf8))
        #expect(try dir.names() == ["trading_state.json"], "nothing left behind")
    }

    @Test func initFromTheBotsOwnFileKeepsItsNameAndNoticesTheOldBot() throws {
        let original = Data(#"{"halt": false, "position": 3}"#.utf8)
        try original.write(to: URL(fileURLWithPath: dir.file("trading_state.json")))
        #expect(chmod(dir.file("trading_state.json"), 0o600) == 0)
        let result = try statectl.shell("cd \"$STATECTL_DIR\" && statectl init --from trading_state.json --keep-history 3")
        #expect(result.status == 0 && result.stderr.contains("in place as the store \"trading_state\""), "\(result)")
        #expect(try dir.names() == ["trading_state.history", "trading_state.json", "trading_state.lock", "trading_state.plain.json"])
        #expect(try dir.contents("trading_state.plain.json") == original)
        #expect(try statectl("--name", "trading_state", "get", "/position").stdout == "3\n")
        var status = stat()
        #expect(stat(dir.file("trading_state.json"), &status) == 0 && status.st_mode & 0o777 == 0o600, "the bot's file was private and stays so")

        // The old bot writes again: noticed, not ignored.
        #expect(try statectl("--name", "trading_state", "set", "/position", "4").status == 0)
        try foreignReplace(#"{"halt": false, "position": 7}"#, name: "trading_state")
        for command in ["status", "verify"] {
            let result = try statectl("--name", "trading_state", command)
            #expect(result.status == 5 && (result.stdout + result.stderr).contains("overwritten by a foreign plain-JSON write"), "\(command): \(result)")
        }
    }
}
