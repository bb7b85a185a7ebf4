import Foundation
import Testing

/// statectl as a user runs it: stdout, stderr and exit code compared exactly.
@Suite("statectl: init, get, set, delete, incr, patch, put")
struct CLIReadWriteTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    @Test func initCreatesAnEmptyStoreAtVersionZeroAndRefusesToRunTwice() throws {
        let created = try statectl("init")
        #expect(created.status == 0 && created.stdout == "0\n" && created.stderr.isEmpty)
        #expect(try dir.names() == ["state.json", "state.lock"])
        #expect(try statectl("get").stdout == "{}\n")
        let again = try statectl("init")
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists") && again.oneDiagnosticLine)
        expectGolden(again, "init-over-a-store", replacing: [(dir.path, "$DIR")])
        let forced = try statectl("init", "--force")
        #expect(forced.status == 0 && forced.stdout == "1\n")
    }

    @Test func initImportsThePythonBotsFileWithSettings() throws {
        let legacy = dir.file("trading_state.json")
        try Data(#"{"positions": {"AAPL": 10}, "halt": false, "big": 9223372036854775807}"#.utf8)
            .write(to: URL(fileURLWithPath: legacy))
        let storeDir = TemporaryDirectory()
        let cli = CLI(directory: storeDir.path)
        let result = try cli("init", "--from", legacy, "--mode", "0604", "--keep-history", "3", "--max-size", "4096")
        #expect(result.status == 0 && result.stdout == "0\n", "\(result)")
        #expect(try cli("get", "/big").stdout == "9223372036854775807\n")
        let mode = try FileManager.default.attributesOfItem(atPath: storeDir.file("state.json"))[.posixPermissions] as? Int
        #expect(mode == 0o604)
        #expect(try cli("set", "/blob", "\"\(String(repeating: "x", count: 5000))\"").status == 1)
    }

    @Test func initFromInvalidJSONSaysWhereAndCreatesNothing() throws {
        let legacy = dir.file("bad.json")
        try Data("{\n  \"a\": tru\n}".utf8).write(to: URL(fileURLWithPath: legacy))
        let storeDir = TemporaryDirectory()
        let result = try CLI(directory: storeDir.path)("init", "--from", legacy)
        #expect(result.status == 1)
        #expect(result.stderr.contains("line 2, column 8: unexpected 't', expected a value"), "\(result)")
        expectGolden(result, "init-from-invalid-json", replacing: [(legacy, "$LEGACY"), (storeDir.path, "$DIR")])
        #expect(try storeDir.names().isEmpty)
    }

    @Test func getPrintsPrettyJSONAtAPointerAndMeta() throws {
        _ = try statectl("init")
        #expect(try statectl("set", "/risk", #"{"max_position": 100, "symbols": ["AAPL", "MSFT"]}"#).stdout == "1\n")
        #expect(try statectl("get", "/risk/symbols/1").stdout == "\"MSFT\"\n")
        #expect(try statectl("get", "/risk").stdout == "{\n  \"max_position\" : 100,\n  \"symbols\" : [\n    \"AAPL\",\n    \"MSFT\"\n  ]\n}\n")
        let meta = try statectl("get", "--meta")
        let object = try JSONSerialization.jsonObject(with: Data(meta.stdout.utf8)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["version", "committedAt", "writer", "checksum", "size"])
        #expect((object?["writer"] as? [String: Any])?["label"] as? String == "statectl")
        #expect((object?["size"] as? Int) == (try dir.contents("state.json").count))
    }

    @Test func setCreatesParentsReplacesIndexesAndAppends() throws {
        _ = try statectl("init")
        _ = try statectl("set", "/orders", "[1, 2]")
        #expect(try statectl("set", "/orders/-", "3").status == 0)
        #expect(try statectl("set", "/orders/3", "4").status == 0)
        #expect(try statectl("set", "/orders/0", "0").status == 0)
        #expect(try statectl("set", "/a~1b/m~0n", "true").status == 0)
        #expect(try statectl("get").stdout == "{\n  \"a/b\" : {\n    \"m~n\" : true\n  },\n  \"orders\" : [\n    0,\n    2,\n    3,\n    4\n  ]\n}\n")
    }

    @Test func globalOptionsGoBeforeOrAfterTheSubcommandAndTheDirectoryComesFromTheEnvironment() throws {
        #expect(try statectl.run(["--dir", dir.path, "--label", "ops", "init"]).stdout == "0\n")
        #expect(try statectl.run(["set", "/x", "1", "--dir", dir.path, "--label", "ops"]).stdout == "1\n")
        let fromEnvironment = try statectl.run(["get", "/x"], environment: ["STATECTL_DIR": dir.path])
        #expect(fromEnvironment.stdout == "1\n")
        #expect(try statectl("get", "--meta").stdout.contains("\"label\" : \"ops\""))
    }

    @Test func deleteRemovesMembersAndElements() throws {
        _ = try statectl("init")
        _ = try statectl("set", "", #"{"a": 1, "arr": [1, 2, 3]}"#)
        #expect(try statectl("delete", "/arr/1").stdout == "2\n")
        #expect(try statectl("delete", "/a").stdout == "3\n")
        #expect(try statectl("get").stdout == "{\n  \"arr\" : [\n    1,\n    3\n  ]\n}\n")
        let missing = try statectl("delete", "/nope")
        #expect(missing.status == 6 && missing.stdout.isEmpty && missing.oneDiagnosticLine)
        #expect(try statectl("delete", "").status == 2)
    }

    @Test func incrAddsIntegersExactlyAndDoublesOtherwise() throws {
        _ = try statectl("init")
        #expect(try statectl("incr", "/fills/AAPL").stdout == "1\n")
        #expect(try statectl("incr", "/fills/AAPL", "100").stdout == "2\n")
        #expect(try statectl("get", "/fills/AAPL").stdout == "101\n")
        _ = try statectl("set", "/big", "9223372036854775806")
        #expect(try statectl("incr", "/big").status == 0)
        #expect(try statectl("get", "/big").stdout == "9223372036854775807\n")
        let overflow = try statectl("incr", "/big")
        #expect(overflow.status == 1 && overflow.stderr.contains("overflows") && overflow.oneDiagnosticLine)
        expectGolden(overflow, "incr-overflow", replacing: [(dir.path, "$DIR")])
        _ = try statectl("set", "/px", "1.5")
        _ = try statectl("incr", "/px", "0.25")
        #expect(try statectl("get", "/px").stdout == "1.75\n")
        for bad in ["null", "true", "\"AAPL\""] {
            _ = try statectl("set", "/bad", bad)
            let refused = try statectl("incr", "/bad")
            #expect(refused.status == 1 && refused.stderr.contains("not a number"), "\(bad): \(refused)")
            expectGolden(refused, "incr-not-a-number-" + (bad == "null" ? "null" : bad == "true" ? "bool" : "string"), replacing: [(dir.path, "$DIR")])
        }
        #expect(try statectl("incr", "/fills/AAPL", "ten").status == 2)
    }

    @Test func patchAppliesAMergePatchFromStdinOrAFile() throws {
        _ = try statectl("init")
        _ = try statectl("set", "", #"{"a": "b", "c": {"d": "e", "f": "g"}}"#)
        let patched = try statectl("patch", stdin: #"{"a": "z", "c": {"f": null}}"#)
        #expect(patched.stdout == "2\n")
        #expect(try statectl("get").stdout == "{\n  \"a\" : \"z\",\n  \"c\" : {\n    \"d\" : \"e\"\n  }\n}\n")
        let file = dir.file("patch.json")
        try Data(#"["not", "an", "object"]"#.utf8).write(to: URL(fileURLWithPath: file))
        let refused = try statectl("patch", file)
        #expect(refused.status == 2 && refused.stderr.contains("put"), "a non-object would replace the whole state: \(refused)")
        #expect(try statectl("get", "/a").stdout == "\"z\"\n")
    }

    @Test func putReplacesTheWholeStateAndJSONPrintsTheMeta() throws {
        _ = try statectl("init")
        let put = try statectl("put", "-", "--json", stdin: #"{"halt": true}"#)
        #expect(put.status == 0 && put.stdout.contains("\"version\" : 1"))
        #expect(try statectl("get").stdout == "{\n  \"halt\" : true\n}\n")
    }

    @Test func staleExpectVersionIsAConflictNamingTheCurrentVersion() throws {
        _ = try statectl("init")
        _ = try statectl("set", "/a", "1")
        let stale = try statectl("set", "/a", "2", "--expect-version", "0")
        #expect(stale.status == 3 && stale.stderr.contains("at version 1") && stale.oneDiagnosticLine)
        expectGolden(stale, "expect-version-conflict", replacing: [(dir.path, "$DIR")])
        #expect(try statectl("set", "/a", "2", "--expect-version", "1").stdout == "2\n")
        for command in [["delete", "/a"], ["incr", "/a"], ["put", "-"], ["patch", "-"]] {
            let result = try statectl.run(["--dir", dir.path] + command + ["--expect-version", "1"], stdin: Data("{}".utf8))
            #expect(result.status == 3, "\(command)")
        }
    }
}
