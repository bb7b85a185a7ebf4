import Foundation
import Testing

@testable import StateCoordinator

/// One table of statectl cases, run against a store in a directory and a store on etcd: the same
/// stdout (once the store's location, times and pids are named alike), the same kind of stderr
/// (one line, the same error code) and the same exit status.
@Suite("statectl on a file store and on etcd", .serialized, .timeLimit(.minutes(3)))
struct EtcdCLIParityTests {
    struct Case: CustomStringConvertible {
        var arguments: [String]
        var stdin: String?
        var description: String { arguments.joined(separator: " ") }
        init(_ arguments: String..., stdin: String? = nil) {
            self.arguments = arguments
            self.stdin = stdin
        }
    }

    static let cases: [Case] = [
        Case("get"),  // no store yet: 6
        Case("init", "--keep-history", "10"),
        Case("init"),  // exists: 1
        Case("set", "/halt", "false"),
        Case("set", "/risk", #"{"maxPosition": 100, "symbols": ["EURUSD"]}"#),
        Case("get"),
        Case("get", "/risk/maxPosition"),
        Case("get", "/nope"),  // 6
        Case("get", "nope"),  // malformed pointer: 2
        Case("incr", "/orders"),
        Case("incr", "/orders", "5"),
        Case("incr", "/orders", "--by", "5"),  // usage: 2
        Case("incr", "/halt"),  // not a number: 1
        Case("set", "/halt", "true", "--expect-version", "1"),  // conflict: 3
        Case("set", "/halt", "true", "--expect-version", "5"),
        Case("patch", stdin: #"[{"op": "test", "path": "/halt", "value": true}, {"op": "replace", "path": "/risk/maxPosition", "value": 250}]"#),
        Case("patch", stdin: #"[{"op": "test", "path": "/halt", "value": false}]"#),  // test failed: 3
        Case("delete", "/risk/symbols"),
        Case("delete", "/risk/symbols"),  // 6
        Case("put", stdin: #"{"halt": true, "orders": 6, "risk": {"maxPosition": 250}}"#),
        Case("put", stdin: "{not json"),  // 1
        Case("history"),
        Case("history", "--json", "--limit", "3"),
        Case("show", "3"),
        Case("show", "99"),  // 6
        Case("diff", "2", "4"),
        Case("rollback", "--to", "2"),
        Case("get", "--meta"),
        Case("watch", "--count", "1", "--timeout", "20"),
        Case("watch", "--since", "6", "--count", "2", "--timeout", "20"),
        Case("schema", "set", "-", stdin: #"{"type": "object", "properties": {"orders": {"type": "integer", "maximum": 10}}}"#),
        Case("set", "/orders", "11"),  // refused by the schema: 11
        Case("schema", "get"),
        Case("verify"),
        Case("history", "--keep", "0"),
        Case("history"),
    ]

    @Test func everyCaseGivesTheSameOutputAndExitStatusOnBothStores() throws {
        let cluster = try EtcdCluster()
        let dir = TemporaryDirectory()
        let statectl = CLI(directory: dir.path)
        let fileStore = ["--dir", dir.path]
        let etcdStore = ["--etcd", cluster.endpoints]
        for testCase in Self.cases {
            let onFiles = try statectl.run(fileStore + testCase.arguments, stdin: testCase.stdin.map { Data($0.utf8) })
            let onEtcd = try statectl.run(etcdStore + testCase.arguments, stdin: testCase.stdin.map { Data($0.utf8) })
            #expect(onFiles.status == onEtcd.status, "\(testCase): files \(onFiles) — etcd \(onEtcd)")
            #expect(
                Self.normalized(onFiles.stdout, location: dir.path + "/state.json") == Self.normalized(onEtcd.stdout, location: "/statecoord/v1/state/state"),
                "\(testCase): files \(onFiles) — etcd \(onEtcd)")
            #expect(onFiles.stderr.isEmpty == onEtcd.stderr.isEmpty, "\(testCase): files \(onFiles) — etcd \(onEtcd)")
            if !onFiles.stderr.isEmpty {
                #expect(
                    onEtcd.oneDiagnosticLine == onFiles.oneDiagnosticLine && Self.code(onFiles.stderr) == Self.code(onEtcd.stderr),
                    "\(testCase): files \(onFiles) — etcd \(onEtcd)")
            }
        }
    }

    /// The output with what differs by nature named alike: the store's location, commit times,
    /// writer pids, sizes (a header holds the pid) and ages.
    static func normalized(_ text: String, location: String) -> String {
        var text = text.replacingOccurrences(of: location, with: "$STORE")
        for (pattern, replacement) in [
            (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "$TIME"),
            (#""pid" ?: ?\d+"#, #""pid": $PID"#),
            (#"pid \d+"#, "pid $PID"),
            (#""size" ?: ?\d+"#, #""size": $SIZE"#),
            (#""committedAt" ?: ?\d+(\.\d+)?"#, #""committedAt": $TIME"#),
        ] {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return text
    }

    /// `statectl: CODE: …` → CODE (usage errors from the argument parser: "Error").
    static func code(_ stderr: String) -> String {
        let line = stderr.split(separator: "\n").first.map(String.init) ?? ""
        let fields = line.split(separator: ":", maxSplits: 2)
        return fields.count > 1 ? fields[0] + ":" + fields[1] : line
    }
}
