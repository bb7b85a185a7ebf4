import Foundation
import Testing

@testable import StateCoordinator

/// Core-correctness item 12: one table of JSON texts, accepted or refused alike by the Swift
/// parser (on every input path) and by the Python package (Sources/python).
@Suite("JSON, the same in every language")
struct JSONVectorTests {
    struct Vector: Sendable, CustomStringConvertible {
        var bytes: [UInt8]
        var valid: Bool
        var canonical: String?
        var why: String?
        var description: String { String(decoding: bytes, as: UTF8.self).debugDescription + (why.map { " (\($0))" } ?? "") }
    }

    static let vectorsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors/json-vectors.json").path

    /// Read with Foundation's JSONSerialization, not with the parser under test.
    static let vectors: [Vector] = {
        guard let data = FileManager.default.contents(atPath: vectorsPath),
            let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return entries.map { entry in
            let bytes: [UInt8]
            if let hex = entry["hex"] as? String {
                bytes = stride(from: 0, to: hex.count, by: 2).map {
                    UInt8(hex[hex.index(hex.startIndex, offsetBy: $0)..<hex.index(hex.startIndex, offsetBy: $0 + 2)], radix: 16)!
                }
            } else {
                bytes = Array((entry["text"] as? String ?? "").utf8)
            }
            return Vector(bytes: bytes, valid: entry["valid"] as? Bool ?? false, canonical: entry["canonical"] as? String, why: entry["why"] as? String)
        }
    }()

    @Test func theTableIsThere() {
        #expect(Self.vectors.count > 70)
        #expect(Self.vectors.contains { !$0.valid } && Self.vectors.contains { $0.valid })
    }

    @Test(arguments: vectors)
    func theSwiftParserAgreesWithTheTable(_ vector: Vector) {
        let parsed = Result { () throws(JSONValue.ParseError) in try JSONValue(parsing: vector.bytes) }
        let checked = Result { () throws(JSONValue.ParseError) in try JSONParser.check(vector.bytes) }
        switch parsed {
        case .success(let value):
            #expect(vector.valid, "accepted \(vector)")
            #expect(value.compactJSON == vector.canonical, "\(vector)")
        case .failure(let error):
            #expect(!vector.valid, "refused \(vector): \(error)")
        }
        #expect(((try? checked.get()) != nil) == vector.valid, "the check-only mode agrees")
    }

    @Test(arguments: vectors.filter { !$0.valid })
    func aStateFileWithRefusedJSONNeverVerifies(_ vector: Vector) throws {
        let dir = TemporaryDirectory()
        _ = try StateStore<JSONValue>.create(directory: dir.path)
        let state = vector.bytes + [0x0A]
        let header = StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: 1, store: "s", version: 1, committedAt: CommitTimestamp.format(Date()),
            writer: WriterIdentity(pid: 1, host: "h", label: "l"), settings: StoreSettings(), stateBytes: state.count,
            checksum: Checksum.of(state))
        try Data(StateFileCodec.encode(header: header, stateBytes: state)).write(to: URL(fileURLWithPath: dir.file("state.json")))
        let store = try ReadOnlyStateStore<JSONValue>(directory: dir.path)
        #expect(throws: StateStoreError.self, "untyped: \(vector)") { try store.read() }
        struct Typed: Codable, Sendable { var a: Int? }
        let typed = try ReadOnlyStateStore<Typed>(directory: dir.path)
        #expect(throws: StateStoreError.self, "typed: \(vector)") { try typed.read() }
    }

    @Test func aHeaderWithADuplicateMemberIsNotAHeader() throws {
        let good = Array(#"{"checksum":"sha256:x","committedAt":"2026-01-01T00:00:00.000Z","format":"statecoordinator","revision":1,"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":100},"stateBytes":3,"store":"s","version":4,"writer":{"host":"h","label":"l","pid":1}}"#.utf8)
        #expect(StateFileHeader.decode(good[...])?.version == 4)
        let doubled = Array(String(decoding: good, as: UTF8.self).replacingOccurrences(of: #""version":4"#, with: #""version":4,"version":9"#).utf8)
        #expect(StateFileHeader.decode(doubled[...]) == nil)
        let trailing = Array(String(decoding: good, as: UTF8.self).replacingOccurrences(of: "}}", with: "},}").utf8)
        #expect(StateFileHeader.decode(trailing[...]) == nil)
    }

    @Test func numbersKeepTheirKindThroughAnUnrelatedCommit() async throws {
        let dir = TemporaryDirectory()
        let store = try await StateStore<JSONValue>.create(
            directory: dir.path, initial: try JSONValue(parsing: Array(#"{"big":18446744073709551615,"px":1.0,"n":-0}"#.utf8)))
        try await store.update { try $0.set(true, forKey: "other") }
        let text = try String(decoding: dir.contents("state.json"), as: UTF8.self).split(separator: "\n")[1]
        #expect(text == #"{"big":18446744073709551615,"n":0,"other":true,"px":1.0}"#)
        await #expect(throws: JSONValue.ArithmeticError.self) {
            try await store.update { state in try state.set(try state["big"]!.adding(1), forKey: "big") }
        }
    }

    @Test func nonFiniteNumbersAndNoOpSettersAreErrorsNotNullsOrSilence() async throws {
        #expect(throws: JSONValue.EncodingError.self) { try JSONValue.double(.nan).jsonText() }
        #expect(throws: JSONValue.EncodingError.self) { try JSONValue.array([.double(.infinity)]).jsonText() }
        var array: JSONValue = [1, 2]
        #expect(throws: JSONPointerError.self) { try array.set(1, forKey: "a") }
        let dir = TemporaryDirectory()
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(.double(.nan), forKey: "x") } }
        await #expect(try store.read().version == 0)
    }

    @Test func nestingBeyondTheLimitIsRefusedNotACrash() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: deep) }
        let limit = JSONParser.maximumDepth
        #expect((try? JSONValue(parsing: Array((String(repeating: "[", count: limit) + String(repeating: "]", count: limit)).utf8))) != nil)
        #expect(throws: JSONValue.ParseError.self) {
            try JSONValue(parsing: Array((String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)).utf8))
        }
    }

    @Test func statectlRefusesWhatThePythonReaderWould() throws {
        let dir = TemporaryDirectory()
        let cli = CLI(directory: dir.path)
        #expect(try cli("init").status == 0)
        for value in ["[1,]", #"{"a":1,}"#, "NaN", #"{"a":1,"a":2}"#, "1e400"] {
            let result = try cli("set", "/a", value)
            #expect(result.status == 2, "\(value): \(result)")
        }
        let put = try cli("put", "-", stdin: #"{"a":1,}"#)
        #expect(put.status == 1 && put.stderr.contains("trailing comma"), "\(put)")
        #expect(try cli("set", "/px", "1.0").status == 0)
        #expect(try cli("get", "/px").stdout == "1.0\n")
    }
}

extension ProcessTests {
    @Suite("JSON vectors in the Python package")
    struct PythonJSONVectorTests {
        @Test func thePythonParticipantAgreesWithTheTable() throws {
            let program = """
                import json, sys
                sys.setrecursionlimit(10000)  # for kind() on the 500-deep vector, not for parse_json
                vectors = json.load(open(sys.argv[1], encoding="utf-8"))
                def kind(v):
                    if isinstance(v, bool) or v is None: return v
                    if isinstance(v, int): return ("i", v)
                    if isinstance(v, float): return ("f", v)
                    if isinstance(v, list): return [kind(x) for x in v]
                    if isinstance(v, dict): return {k: kind(x) for k, x in v.items()}
                    return v
                wrong = 0
                for v in vectors:
                    data = bytes.fromhex(v["hex"]) if "hex" in v else v["text"].encode("utf-8")
                    try:
                        value = parse_json(data); accepted = True
                    except (ValueError, RecursionError):
                        accepted = False
                    if accepted != v["valid"] or (accepted and kind(value) != kind(json.loads(v["canonical"]))):
                        wrong += 1; print("disagrees:", repr(data), v.get("why"))
                print("checked", len(vectors), "wrong", wrong)
                """
            let script = try PythonParticipantTests.documentedScript() + "\n" + program
            let run = try RunningHelper(["python3", "-c", script, JSONVectorTests.vectorsPath], executable: URL(fileURLWithPath: "/usr/bin/env"))
            let result = run.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasSuffix("wrong 0\n"), "\(result.stdout)")
            #expect(result.stdout.contains("checked \(JSONVectorTests.vectors.count) "))
        }
    }
}
