import Foundation
import Testing

@testable import StateCoordinator
@testable import StateJSON

/// RFC 6902 JSON Patch against the public json-patch-tests suite (vendored in
/// `Vectors/json-patch-tests` with its licence), and `statectl patch --json-patch`.
@Suite("JSON Patch: the public suite and the CLI")
struct JSONPatchSuiteTests {
    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var comment: String
        var document: JSONValue
        var patch: JSONValue
        var expected: JSONValue?
        var error: String?
        var description: String { "\(file): \(comment)" }
    }

    /// Every enabled case of both files. The files hold two disabled records with duplicate
    /// member names, which this package's strict parser refuses, so Python's `json` splits them
    /// into one record a line first; each record is then read by the parser under test.
    static func cases() throws -> [Case] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/json-patch-tests")
        var cases: [Case] = []
        for file in ["tests.json", "spec_tests.json"] {
            let split = """
                import json, sys
                for record in json.load(open(sys.argv[1])):
                    if "patch" in record and not record.get("disabled"): print(json.dumps(record, ensure_ascii=False))
                """
            let python = try RunningHelper(
                ["python3", "-c", split, directory.appendingPathComponent(file).path], executable: URL(fileURLWithPath: "/usr/bin/env"))
            python.closeInput()
            let (status, stdout, stderr) = python.waitForExit()
            guard status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: stderr]) }
            for line in stdout.split(separator: "\n") {
                let record = try JSONValue(parsing: Array(line.utf8))
                guard let document = record["doc"], let patch = record["patch"] else { throw CocoaError(.coderInvalidValue) }
                var comment = ""
                if case .string(let text)? = record["comment"] { comment = text }
                var error: String?
                if case .string(let text)? = record["error"] { error = text }
                cases.append(Case(file: file, comment: comment, document: document, patch: patch, expected: record["expected"], error: error))
            }
        }
        return cases
    }

    @Test func everyEnabledCaseOfTheSuitePasses() throws {
        let cases = try Self.cases()
        #expect(cases.count == 108, "92 enabled cases in tests.json, 16 in spec_tests.json")
        #expect(cases.filter { $0.error != nil }.count > 30, "the error cases are there")
        var failures: [String] = []
        for testCase in cases {
            let result = Result { () throws(JSONPatchError) -> JSONValue in
                try JSONPatch.apply(try JSONPatch.operations(from: testCase.patch), to: testCase.document)
            }
            switch (result, testCase.error, testCase.expected) {
            case (.success, let error?, _):
                failures.append("\(testCase): applied, expected an error (\(error))")
            case (.success(let value), nil, let expected?) where !value.schemaEquals(expected):
                failures.append("\(testCase): got \(value.compactJSON), expected \(expected.compactJSON)")
            case (.failure(let error), nil, _):
                failures.append("\(testCase): \(error)")
            default:
                break
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(5))")
    }

    @Test func aFailingOperationAppliesNothingAndIsNamed() throws {
        let document: JSONValue = ["halt": false, "orders": [1, 2]]
        let patch = try JSONValue(
            parsing: Array(#"[{"op":"replace","path":"/halt","value":true},{"op":"remove","path":"/orders/5"}]"#.utf8))
        #expect(throws: JSONPatchError(.notFound, operationIndex: 1, #"remove "/orders/5": no element 5 in an array of 2"#)) {
            try JSONPatch.apply(try JSONPatch.operations(from: patch), to: document)
        }
        let test = try JSONPatch.operations(from: try JSONValue(parsing: Array(#"[{"op":"test","path":"/halt","value":true}]"#.utf8)))
        #expect(throws: JSONPatchError(.testFailed, operationIndex: 0, #"test "/halt": expected true, found false"#)) {
            try JSONPatch.apply(test, to: document)
        }
    }

    @Test func nullIsAValueAndAbsenceIsNot() throws {
        let operations = try JSONPatch.operations(from: try JSONValue(parsing: Array(#"[{"op":"add","path":"/a","value":null}]"#.utf8)))
        #expect(try JSONPatch.apply(operations, to: [:]) == ["a": nil])
        #expect(throws: JSONPatchError(.malformed, operationIndex: 0, #"add needs a "value""#)) {
            try JSONPatch.operations(from: try JSONValue(parsing: Array(#"[{"op":"add","path":"/a"}]"#.utf8)))
        }
    }

    /// Random pairs of documents: the difference applied to the first gives the second.
    @Test func aComputedDifferenceAlwaysAppliesBack() throws {
        var generator = SystemRandomNumberGenerator()
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth < 3 ? 6 : 4), using: &generator) {
            case 0: return .int(Int64.random(in: -3...3, using: &generator))
            case 1: return .string(["é", "e\u{301}", "a", "~/"].randomElement(using: &generator)!)
            case 2: return .bool(Bool.random(using: &generator))
            case 3: return .null
            case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in value(depth + 1) })
            default:
                var members: [JSONKey: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &generator) {
                    members[JSONKey(["é", "e\u{301}", "a", "a/b", "m~n", "-", "0"].randomElement(using: &generator)!)] = value(depth + 1)
                }
                return .object(members)
            }
        }
        for _ in 0..<2000 {
            let old = value(0), new = value(0)
            #expect(try JSONPatch.apply(JSONPatch.difference(from: old, to: new), to: old) == new, "\(old.compactJSON) → \(new.compactJSON)")
        }
    }

    @Suite("statectl patch") struct Command {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }

        @Test func aJSONPatchIsAppliedAllOrNothing() throws {
            #expect(try statectl("init", "--keep-history", "10").status == 0)
            #expect(try statectl("put", stdin: #"{"halt": false, "orders": [1, 2]}"#).status == 0)
            let applied = try statectl(
                "patch", "--json-patch",
                stdin: #"[{"op":"test","path":"/halt","value":false},{"op":"replace","path":"/halt","value":true},{"op":"move","from":"/orders/0","path":"/first"}]"#)
            #expect(applied.status == 0 && applied.stdout == "2\n", "\(applied)")
            #expect(try JSONValue(parsing: Array(try statectl("get").stdout.utf8)) == ["halt": true, "orders": [2], "first": 1])

            let refused = try statectl(
                "patch", "--json-patch", stdin: #"[{"op":"replace","path":"/halt","value":false},{"op":"test","path":"/halt","value":true}]"#)
            #expect(refused.status == 3 && refused.oneDiagnosticLine, "\(refused)")
            #expect(refused.stderr.contains("JSON Patch operation 1: test \"/halt\""), "\(refused)")
            #expect(try statectl("get", "--meta").stdout.contains("\"version\" : 2"), "a failed test commits nothing")
        }

        @Test func whatDiffPrintsAppliesBack() throws {
            #expect(try statectl("init", "--keep-history", "10").status == 0)
            #expect(try statectl("put", stdin: #"{"a": [1, 2, 3], "b": {"c": 1}}"#).status == 0)
            #expect(try statectl("put", stdin: #"{"a": [3], "b": {"d": null}, "e": "é"}"#).status == 0)
            let back = try statectl.shell("statectl diff 2 1 | statectl patch --json-patch && statectl get")
            #expect(back.status == 0, "\(back)")
            #expect(try JSONValue(parsing: Array(back.stdout.split(separator: "\n", maxSplits: 1)[1].utf8)) == ["a": [1, 2, 3], "b": ["c": 1]])
            let dryRun = try statectl.shell(#"echo '{"e": "x"}' | statectl patch --dry-run | statectl patch --json-patch && statectl get /e"#)
            #expect(dryRun.stdout.hasSuffix("\"x\"\n"), "the dry run's patch applies: \(dryRun)")
        }

        /// Before the fix an array given to `patch` replaced the whole state, exit 0.
        @Test(arguments: [#"[{"op":"remove","path":"/halt"}]"#, "42", "null", #""text""#])
        func aMergePatchThatIsNotAnObjectIsRefused(patch: String) throws {
            #expect(try statectl("init").status == 0)
            #expect(try statectl("put", stdin: #"{"halt": true}"#).status == 0)
            let result = try statectl("patch", stdin: patch)
            #expect(result.status == 2 && result.oneDiagnosticLine, "\(result)")
            #expect(result.stderr.contains("--json-patch") && result.stderr.contains("put"), "\(result)")
            #expect(try JSONValue(parsing: Array(try statectl("get").stdout.utf8)) == ["halt": true])
        }
    }
}
