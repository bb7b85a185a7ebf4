import Foundation
import Testing

@testable import StateCoordinator

/// The parser against JSONTestSuite's `test_parsing` (vendored in `Vectors/JSONTestSuite` with its
/// licence): every `y_` text accepted but the two with duplicate names (refused by design), every
/// `n_` text refused — by the parser and by `statectl put`, which then leaves the store as it was —
/// and every `i_` text answered without a crash.
@Suite("JSONTestSuite: test_parsing")
struct JSONTestSuiteTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors/JSONTestSuite/test_parsing")

    /// Duplicate member names are refused: a reader cannot tell which one its writer meant.
    static let refusedByDesign: Set<String> = ["y_object_duplicated_key.json", "y_object_duplicated_key_and_value.json"]

    static func files(_ prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(prefix) }.sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    @Test func theSuiteIsThere() throws {
        #expect(try Self.files("y_").count == 95)
        #expect(try Self.files("n_").count == 188)
        #expect(try Self.files("i_").count == 35)
    }

    @Test func everyTextThatMustBeAcceptedIsAccepted() throws {
        var wrong: [String] = []
        for name in try Self.files("y_") {
            let accepted = (try? JSONValue(parsing: try Self.bytes(name))) != nil
            if accepted == Self.refusedByDesign.contains(name) { wrong.append(name) }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test func everyTextThatMustBeRefusedIsRefused() throws {
        let accepted = try Self.files("n_").filter { (try? JSONValue(parsing: try Self.bytes($0))) != nil }
        #expect(accepted.isEmpty, "\(accepted)")
    }

    @Test func everyImplementationDefinedTextIsAnsweredWithoutACrash() throws {
        for name in try Self.files("i_") {
            let bytes = try Self.bytes(name)
            let parsed = try? JSONValue(parsing: bytes)
            #expect((parsed != nil) == ((try? JSONParser.check(bytes)) != nil), "\(name): parse and check agree")
        }
    }

    /// Through the CLI's input path: each `n_` file given to `put` fails with one line and a
    /// nonzero exit, and the store stays at its version; each `y_` file (but the duplicates) commits.
    @Test func statectlPutRefusesEveryInvalidTextAndChangesNothing() throws {
        let dir = TemporaryDirectory()
        let statectl = CLI(directory: dir.path)
        #expect(try statectl("init").status == 0)
        let loop = try statectl.shell(
            #"for f in "$SUITE"/n_*.json; do statectl put "$f" >/dev/null 2>&1; echo "$? $(basename "$f")"; done"#,
            environment: ["SUITE": Self.directory.path])
        let outcomes = loop.stdout.split(separator: "\n")
        #expect(outcomes.count == 188)
        let committed = outcomes.filter { $0.hasPrefix("0 ") }
        #expect(committed.isEmpty, "\(committed)")
        #expect(try statectl("get", "--meta").stdout.contains("\"version\" : 0"), "nothing was committed")
        #expect(try statectl("verify").status == 0)

        let valid = try statectl.shell(
            #"for f in "$SUITE"/y_*.json; do statectl put "$f" >/dev/null 2>&1; echo "$? $(basename "$f")"; done"#,
            environment: ["SUITE": Self.directory.path])
        let refused = valid.stdout.split(separator: "\n").filter { !$0.hasPrefix("0 ") }.map { String($0.split(separator: " ")[1]) }
        #expect(Set(refused) == Self.refusedByDesign, "\(refused)")
    }
}
