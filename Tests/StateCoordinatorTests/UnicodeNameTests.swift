import Foundation
import Testing

@testable import StateCoordinator

/// Member names and strings compare code point by code point everywhere (RFC 8259 §8.3, RFC 6901
/// §4, JSON Schema 2020-12 core §4.2.2), never by Swift's canonical equivalence: `"é"`
/// precomposed and decomposed are two names, as in Python, jq and every other JSON tool.
@Suite("Unicode names compare by code points")
struct UnicodeNameTests {
    static let nfc = "\u{E9}"  // é, one code point
    static let nfd = "e\u{301}"  // e + combining acute accent

    private func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    @Test func bothFormsAreTwoDistinctMembersWrittenInCodePointOrder() throws {
        let value = try json(#"{"\#(Self.nfc)": 1, "\#(Self.nfd)": 2}"#)
        #expect(value[Self.nfc] == 1 && value[Self.nfd] == 2)
        #expect(value.compactJSON == #"{"\#(Self.nfd)":2,"\#(Self.nfc)":1}"#, "U+0065 sorts before U+00E9")
        #expect(try json(#"{"\#(Self.nfc)": 1}"#) != json(#"{"\#(Self.nfd)": 1}"#))
        #expect(JSONValue.string(Self.nfc) != .string(Self.nfd))
        #expect(Set<JSONValue>([.string(Self.nfc), .string(Self.nfd)]).count == 2)
        #expect(throws: JSONValue.ParseError.self) { try json(#"{"\#(Self.nfc)": 1, "\#(Self.nfc)": 2}"#) }
    }

    @Test func pointersReachOnlyTheirOwnForm() throws {
        var value = try json(#"{"\#(Self.nfc)": 1, "\#(Self.nfd)": 2}"#)
        #expect(try value.value(at: JSONPointer("/" + Self.nfc)) == 1)
        #expect(try value.value(at: JSONPointer("/" + Self.nfd)) == 2)
        #expect(JSONPointer(tokens: [Self.nfc]) != JSONPointer(tokens: [Self.nfd]))
        try value.remove(at: JSONPointer("/" + Self.nfd))
        #expect(value == [Self.nfc: 1])
        #expect(throws: JSONPointerError.self) { try json(#"{"\#(Self.nfc)": 1}"#).value(at: JSONPointer("/" + Self.nfd)) }
    }

    /// Swift splits a `String` into grapheme clusters: `/` followed by a combining mark is one
    /// `Character`, not `/`. Pointers are split and unescaped on code points.
    @Test func aCombiningMarkAfterASlashOrTildeDoesNotHideIt() throws {
        #expect(try JSONPointer("/\u{301}a/b").tokens == ["\u{301}a", "b"])
        #expect(try JSONPointer("/a~1\u{301}").tokens.map { Array($0.unicodeScalars) } == [["a", "/", "\u{301}"]])
        #expect(throws: JSONPointerError.self) { try JSONPointer("/~\u{301}") }
        #expect(JSONPointer(tokens: ["/\u{301}"]).description == "/~1\u{301}")
        #expect(throws: JSONPointerError.self) { try JSONPointer("\u{301}/a") }
    }

    @Test func mergePatchKeepsTheFormsApart() throws {
        let merged = try json(#"{"\#(Self.nfc)": 1}"#).merging(patch: json(#"{"\#(Self.nfd)": 2}"#))
        #expect(merged == [Self.nfc: 1, Self.nfd: 2])
        let removed = try json(#"{"\#(Self.nfc)": 1}"#).merging(patch: json(#"{"\#(Self.nfd)": null}"#))
        #expect(removed == [Self.nfc: 1], "null removes only the member of the same code points")
    }

    /// The four cases the issue found, each accepted or refused as `jsonschema` does.
    @Test func theSchemaValidatorComparesNamesByCodePoints() throws {
        let required = try JSONSchema(json(#"{"required": ["\#(Self.nfc)"]}"#))
        #expect(!required.accepts(try json(#"{"\#(Self.nfd)": 1}"#)))
        let closed = try JSONSchema(json(#"{"properties": {"\#(Self.nfc)": {}}, "additionalProperties": false}"#))
        #expect(!closed.accepts(try json(#"{"\#(Self.nfd)": 1}"#)))
        let typed = try JSONSchema(json(#"{"properties": {"\#(Self.nfc)": {"type": "string"}}}"#))
        #expect(typed.accepts(try json(#"{"\#(Self.nfd)": 1}"#)))
        let constant = try JSONSchema(json(#"{"const": "\#(Self.nfc)"}"#))
        #expect(!constant.accepts(.string(Self.nfd)))
        #expect(throws: StateStoreError.self) { try JSONSchema(json(#"{"required": ["\#(Self.nfc)", "\#(Self.nfc)"]}"#)) }
        _ = try JSONSchema(json(#"{"required": ["\#(Self.nfc)", "\#(Self.nfd)"]}"#))
    }

    @Test func changingOnlyTheNormalizationIsACommit() throws {
        let dir = TemporaryDirectory()
        let store = try StateStore<JSONValue>.create(directory: dir.path, initial: ["name": .string(Self.nfc)])
        let changed = try store.update { $0 = ["name": .string(Self.nfd)] }
        #expect(changed.version == 1, "a different string is a new version, not a no-op")
        let same = try store.update { $0 = ["name": .string(Self.nfd)] }
        #expect(same.version == 1)
        let statectl = CLI(directory: dir.path)
        let result = try statectl("get", "/" + Self.nfc)
        #expect(result.status == 6, "the NFC name is gone: \(result)")
        #expect(try statectl("get", "/name").stdout == "\"\(Self.nfd)\"\n")
    }

    /// Merge patches, pointers and equality against Python's `json` on generated documents that
    /// mix normalization forms: the results, written compactly with names in code point order,
    /// are the same bytes.
    @Test func mergePatchesPointersAndEqualityAgreeWithPython() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/unicode_corpus.py")
        let python = try RunningHelper(["python3", script.path, "7", "2000"], executable: URL(fileURLWithPath: "/usr/bin/env"))
        python.closeInput()
        let (status, stdout, stderr) = python.waitForExit()
        #expect(status == 0, "\(stderr)")
        var disagreements: [String] = []
        var rows = 0
        for line in stdout.split(separator: "\n") {
            rows += 1
            let row = try JSONValue(parsing: Array(line.utf8))
            guard let document = row["document"], let patch = row["patch"], let merged = row["merged"], case .string(let pointer)? = row["pointer"],
                let found = row["found"], case .bool(let unchanged)? = row["unchanged"]
            else { throw CocoaError(.coderInvalidValue) }
            let ours = document.merging(patch: patch)
            if ours.compactJSON != merged.compactJSON { disagreements.append("merge \(line): got \(ours.compactJSON)") }
            let lookedUp = (try? document.value(at: JSONPointer(pointer))) ?? .string("<missing>")
            if lookedUp != found { disagreements.append("pointer \(line): got \(lookedUp.compactJSON)") }
            if (ours == document) != unchanged { disagreements.append("equality \(line)") }
        }
        #expect(rows == 2000)
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(3))")
    }
}
