import Foundation
import Testing

@testable import StateCoordinator

/// The issue's scenarios: a store with the bots' schema refuses what typed readers cannot use,
/// whoever writes (the library, statectl, the Python package); a foreign writer's
/// bad state is reported by verify and by the readers; dry runs commit nothing.
extension ProcessTests {
    @Suite("Schema guard rails")
    struct SchemaTests {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }

        /// The bots' state, with the schema it declares.
        struct Risk: Codable, Sendable, Equatable, StateSchemaProviding {
            var halt = false
            var maxPosition = 100
            var symbols: [String] = ["AAPL"]

            static let jsonSchema: JSONValue = [
                "type": "object",
                "properties": [
                    "halt": ["type": "boolean"],
                    "maxPosition": ["type": "integer", "minimum": 0],
                    "symbols": ["type": "array", "items": ["type": "string", "minLength": 1]],
                ],
                "required": ["halt", "maxPosition", "symbols"],
                "additionalProperties": false,
            ]
        }

        func makeStore() throws -> StateStore<JSONValue> {
            _ = try StateStore<Risk>.create(directory: dir.path, initial: Risk())
            let store = try StateStore<JSONValue>(directory: dir.path)
            try store.setSchema(try JSONSchema(Risk.jsonSchema))
            return store
        }

        @Test func theTypesSchemaAcceptsItsOwnEncodingsAndNamesWhatItRefuses() async throws {
            let schema = try JSONSchema(Risk.jsonSchema)
            let samples = [Risk(), Risk(halt: true, maxPosition: 0, symbols: []), Risk(halt: false, maxPosition: 7, symbols: ["A", "B"])]
            for sample in samples {
                let encoded = try JSONValue(parsing: Array(try JSONEncoder().encode(sample)))
                #expect(schema.accepts(encoded), "\(encoded.compactJSON)")
            }
            // Each refused one names its rule.
            let refused: [(JSONValue, String)] = [
                (["halt": 1, "maxPosition": 1, "symbols": []], "/halt: expected boolean, got 1"),
                (["halt": true, "maxPosition": 1.5, "symbols": []], "/maxPosition: expected integer, got 1.5"),
                (["halt": true, "maxPosition": 1], "(root): required member \"symbols\" is missing"),
                (["halt": true, "maxPosition": 1, "symbols": [""]], "/symbols/0: expected at least 1 character, got 0"),
            ]
            for (document, message) in refused {
                #expect(schema.firstViolation(of: document)?.description == message)
            }
            // What the type declares is what the store applies.
            let store = try await StateStore<Risk>.create(directory: dir.path, initial: Risk())
            try await store.setSchemaFromStateType()
            #expect(try await store.schema() == schema)
            await #expect(throws: StateStoreError.self) { try await store.update { $0.maxPosition = -1 } }
        }

        // 1.
        @Test func everyWriterRefusesWhatTheSchemaRefusesAndCommitsNothing() throws {
            let store = try makeStore()
            let before = try store.read()
            let refused = try statectl("set", "/halt", "1")
            #expect(refused.status == 11 && refused.oneDiagnosticLine, "\(refused)")
            #expect(refused.stderr.contains("/halt: expected boolean, got 1"), "\(refused.stderr)")
            for (arguments, input) in [(["patch"], #"{"maxPosition": -5}"#), (["put"], #"{"halt": true}"#), (["incr", "/halt"], "")] {
                let result = try statectl.run(["--dir", dir.path] + arguments, stdin: Data(input.utf8))
                #expect(result.status == 11 || (arguments[0] == "incr" && result.status == 1), "\(arguments): \(result)")
            }
            #expect(try store.read().version == before.version, "nothing was committed")
            let accepted = try statectl("set", "/halt", "true")
            #expect(accepted.status == 0 && accepted.stdout == "\(before.version + 1)\n", "\(accepted)")
            // The library refuses in the same words, and a batch refuses only the offending update.
            #expect {
                try store.update { try $0.set(.string("yes"), forKey: "halt") }
            } throws: { ($0 as? StateStoreError)?.schemaViolation?.description == "/halt: expected boolean, got \"yes\"" }
            // The Python package refuses the same documents.
            let python = try PythonParticipantTests().python(
                """
                import sys
                from statecoordinator import SchemaViolation
                try:
                    update(sys.argv[1], lambda s: {**s, "halt": 1})
                    print("committed")
                except SchemaViolation as error:
                    print("refused %s: %d" % (error.pointer, error.code))
                update(sys.argv[1], lambda s: {**s, "maxPosition": 5})
                print("committed")
                """, [dir.path])
            let (status, stdout, stderr) = python.waitForExit()
            #expect(status == 0 && stdout == "refused /halt: 11\ncommitted\n", "\(stderr)")
            #expect(try store.read().state["maxPosition"] == 5)
        }

        @Test func settingASchemaTheCurrentStateBreaksIsRefused() throws {
            let store = try makeStore()
            try "{\"type\": \"array\"}".write(toFile: dir.file("array.json"), atomically: false, encoding: .utf8)
            let result = try statectl("schema", "set", dir.file("array.json"))
            #expect(result.status == 11 && result.stderr.contains("(root): expected array"), "\(result)")
            #expect(try store.schema() == (try JSONSchema(Risk.jsonSchema)), "the schema in force is unchanged")
            let unsupported = try statectl("schema", "set", "-", stdin: #"{"type": "object", "patternProperties": {}}"#)
            #expect(unsupported.status == 2 && unsupported.stderr.contains("patternProperties"), "\(unsupported)")
            // Cleared, anything goes again; history keeps each version's schema.
            #expect(try statectl("schema", "clear").status == 0)
            #expect(try statectl("set", "/halt", "1").status == 0)
            #expect(try statectl("schema", "get").status == 6)
        }

        // 2.
        @Test func aForeignWritersBadStateIsReportedByVerifyAndByTheReaders() async throws {
            let store = try makeStore()
            let typed = try await ReadOnlyStateStore<Risk>(directory: dir.path)
            let reader = try await StateObservation(label: "typed-bot").reader(in: typed)
            defer { reader.close() }
            let good = reader.current
            var checked = StateObservation(unusableVersions: .fail).values(in: typed).makeAsyncIterator()
            _ = try await checked.next()
            // A foreign writer that does not check the schema (the Python package, its check taken out).
            let python = try PythonParticipantTests().python(
                """
                import sys
                import statecoordinator._schema
                statecoordinator._schema.check = lambda *args, **kwargs: None
                update(sys.argv[1], lambda s: {**s, "halt": 1})
                """, [dir.path])
            #expect(python.waitForExit().status == 0)
            let bad = try await store.read()
            #expect(await eventually { reader.problem != nil })
            #expect(reader.problem?.version == bad.version && reader.problem?.code == .badState, "\(String(describing: reader.problem))")
            #expect(reader.current.version == good.version && reader.current.state == good.state, "the last good one is kept")
            #expect(throws: StateStoreError.self) { _ = try reader.checked { $0.state.halt } }
            #expect(reader.statistics.unusableVersions == 1)
            await #expect(throws: StateStoreError.self) { _ = try await checked.next() }
            let recorded = try await store.readers().first { $0.label == "typed-bot" }
            #expect(recorded?.rejected?.version == bad.version, "recorded as a rejection")
            let verify = try statectl("verify")
            #expect(verify.status == 5 && verify.stdout.contains("/halt: expected boolean, got 1"), "\(verify)")
            let report = await store.verify()
            #expect(report.problems.map(\.kind) == [.schemaViolation])
        }

        // 4.
        @Test func dryRunsPrintTheDiffAndCommitNothing() throws {
            let store = try makeStore()
            let version = try store.read().version
            let cases: [([String], String, Int32, String)] = [
                (["set", "/halt", "true"], "", 0, #""op" : "replace""#),
                (["set", "/halt", "1"], "", 11, ""),
                (["delete", "/symbols/0"], "", 0, #""op" : "remove""#),
                (["incr", "/maxPosition", "5"], "", 0, #""value" : 105"#),
                (["patch"], #"{"maxPosition": 7}"#, 0, #""value" : 7"#),
                (["put"], #"{"halt": true, "maxPosition": 1, "symbols": []}"#, 0, #""path" : "/symbols/0""#),
                (["put"], #"{"halt": true}"#, 11, ""),
                (["schema", "clear"], "", 0, "[]"),
                (["set", "/halt", "true", "--expect-version", "99"], "", 3, ""),
            ]
            for (arguments, input, status, output) in cases {
                let result = try statectl.run(["--dir", dir.path] + arguments + ["--dry-run"], stdin: Data(input.utf8))
                #expect(result.status == status && (output.isEmpty ? result.stdout.isEmpty : result.stdout.contains(output)), "\(arguments): \(result)")
                #expect(status == 0 ? result.stderr.isEmpty : result.oneDiagnosticLine, "\(arguments): \(result)")
            }
            #expect(try store.read().version == version, "no dry run committed anything")
            let refusedAck = try statectl("set", "/halt", "false", "--dry-run", "--await-ack", "all")
            #expect(refusedAck.status == 2 && refusedAck.stderr.contains("--dry-run commits nothing"), "\(refusedAck)")
        }

        @Test func rollbackDryRunChecksTheKeptStateAgainstTheSchemaInForce() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": "no"], settings: StoreSettings(keepHistory: 5))
            let store = try StateStore<JSONValue>(directory: dir.path)
            _ = try store.update { $0 = ["halt": false, "maxPosition": 1, "symbols": []] }
            try store.setSchema(try JSONSchema(Risk.jsonSchema))
            let version = try store.read().version
            let refused = try statectl("rollback", "--to", "0", "--dry-run")
            #expect(refused.status == 11 && refused.stderr.contains("(root): required member \"maxPosition\" is missing"), "\(refused)")
            let fine = try statectl("rollback", "--to", "1", "--dry-run")
            #expect(fine.status == 0 && fine.stdout == "[]\n", "the same state: an empty patch; \(fine)")
            #expect(try statectl("rollback", "--to", "0").status == 11, "and the real rollback is refused too")
            #expect(try store.read().version == version)
        }

        @Test func aMissingOrAlteredSchemaFileStopsEveryCommit() throws {
            let store = try makeStore()
            let file = try #require(try dir.names().first { $0.hasPrefix("state.schema-") })
            try "{\"type\": \"object\"}\n".write(toFile: dir.file(file), atomically: false, encoding: .utf8)
            SchemaFile.forgetCache()
            let altered = try statectl("set", "/halt", "true")
            #expect(altered.status == 5 && altered.stderr.contains("does not match its name"), "\(altered)")
            try FileManager.default.removeItem(atPath: dir.file(file))
            SchemaFile.forgetCache()
            let missing = try statectl("set", "/halt", "true")
            #expect(missing.status == 6 && missing.stderr.contains("is missing"), "\(missing)")
            #expect(throws: StateStoreError.self) { try store.update { try $0.set(true, forKey: "halt") } }
            // Clearing needs no schema file, and heals the store.
            #expect(try statectl("schema", "clear").status == 0)
            #expect(try statectl("set", "/halt", "true").status == 0)
        }

        @Test func initTakesASchemaAndRefusesAnImportThatBreaksIt() throws {
            try JSONWriter.write(Risk.jsonSchema, pretty: false).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir.file("risk.schema.json"))) }
            try #"{"halt": "no"}"#.write(toFile: dir.file("bad.json"), atomically: false, encoding: .utf8)
            // --name: a file in the store's directory would otherwise be imported in place under its own name.
            let refused = try statectl("init", "--name", "state", "--from", dir.file("bad.json"), "--schema", dir.file("risk.schema.json"))
            #expect(refused.status == 11 && !FileManager.default.fileExists(atPath: dir.file("state.json")), "\(refused)")
            let empty = try statectl("init", "--schema", dir.file("risk.schema.json"))
            #expect(empty.status == 11 && empty.stderr.contains("required member"), "{} breaks it: \(empty)")
            try #"{"halt": false, "maxPosition": 3, "symbols": []}"#.write(toFile: dir.file("good.json"), atomically: false, encoding: .utf8)
            let created = try statectl("init", "--name", "state", "--from", dir.file("good.json"), "--schema", dir.file("risk.schema.json"))
            #expect(created.status == 0 && created.stdout == "0\n", "the schema is there from version 0: \(created)")
            #expect(try ReadOnlyStateStore<JSONValue>(directory: dir.path).read().settings.schema != nil)
            #expect(try statectl("set", "/maxPosition", "-1").status == 11)
        }
    }
}
