import Testing

@testable import StateCoordinator
@testable import StateJSON

@Suite("JSON Pointer, merge patch, JSON Patch")
struct JSONToolsTests {
    private func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    // RFC 6901 §5: the example document and every pointer of the table.
    @Test func rfc6901ExamplesResolve() throws {
        let document = try json(#"{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}"#)
        let expected: [(String, JSONValue)] = [
            ("", document), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2),
            ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7), ("/m~0n", 8),
        ]
        for (pointer, value) in expected {
            #expect(try document.value(at: JSONPointer(pointer)) == value, "\(pointer)")
        }
    }

    @Test func malformedPointersAreRefused() {
        for text in ["foo", "/a~2", "/a~"] {
            #expect(throws: JSONPointerError.self) { try JSONPointer(text) }
        }
    }

    @Test func setCreatesParentsAndAppends() throws {
        var document: JSONValue = ["arr": [1, 2]]
        try document.set(5, at: JSONPointer("/a/b/c"))
        try document.set(3, at: JSONPointer("/arr/-"))
        try document.set(4, at: JSONPointer("/arr/3"))
        try document.set(9, at: JSONPointer("/arr/0"))
        #expect(document == ["a": ["b": ["c": 5]], "arr": [9, 2, 3, 4]])
        #expect(throws: JSONPointerError.self) { try document.set(1, at: JSONPointer("/arr/9")) }
        #expect(throws: JSONPointerError.self) { try document.set(1, at: JSONPointer("/a/b/c/d")) }
        #expect(throws: JSONPointerError.self) { try document.set(1, at: JSONPointer("/arr/01")) }
    }

    @Test func removeDeletesMembersAndElements() throws {
        var document: JSONValue = ["a": 1, "arr": [1, 2, 3]]
        #expect(try document.remove(at: JSONPointer("/arr/1")) == 2)
        #expect(try document.remove(at: JSONPointer("/a")) == 1)
        #expect(document == ["arr": [1, 3]])
        #expect(throws: JSONPointerError.self) { try document.remove(at: JSONPointer("/missing")) }
        #expect(throws: JSONPointerError.self) { try document.remove(at: JSONPointer("")) }
    }

    // RFC 7396 Appendix A, every row.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func rfc7396AppendixA(original: String, patch: String, result: String) throws {
        #expect(try json(original).merging(patch: json(patch)) == json(result))
    }

    @Test(arguments: [
        (#"{"a":1,"b":[1,2,3],"c":{"d":true}}"#, #"{"a":2,"b":[1,3],"c":{"e":null},"f":"new"}"#),
        (#"[1,2]"#, #"[1,2,3,4]"#),
        (#"{"a":[{"x":1}]}"#, #"{"a":[{"x":2},{"y":3}]}"#),
        (#"1"#, #"{"a":1}"#),
        (#"{"a/b":{"m~n":1}}"#, #"{"a/b":{"m~n":2}}"#),
    ])
    func jsonPatchDifferenceTurnsOneIntoTheOther(from: String, to: String) throws {
        let old = try json(from), new = try json(to)
        let patch = JSONPatch.difference(from: old, to: new)
        #expect(try JSONPatch.apply(patch, to: old) == new)
        #expect(JSONPatch.difference(from: new, to: new).isEmpty)
    }

    @Test func integerArithmeticRefusesOverflowAndNonNumbers() throws {
        #expect(try JSONValue.int(2).adding(.int(3)) == .int(5))
        #expect(try JSONValue.int(2).adding(.double(0.5)) == .double(2.5))
        #expect(throws: JSONValue.ArithmeticError.overflow(.max, 1)) { try JSONValue.int(.max).adding(.int(1)) }
        #expect(throws: JSONValue.ArithmeticError.notANumber("a string")) { try JSONValue.string("x").adding(.int(1)) }
        #expect(throws: JSONValue.ArithmeticError.notANumber("null")) { try JSONValue.null.adding(.int(1)) }
    }

    @Test func parsingReportsLineColumnAndInvalidUTF8() {
        #expect(throws: JSONValue.ParseError(description: "line 2, column 7: unexpected '}', expected a value")) {
            try JSONValue(parsing: Array("{\"a\": 1,\n \"b\": }".utf8))
        }
        #expect(throws: JSONValue.ParseError(description: "line 1, column 7: not valid UTF-8")) {
            try JSONValue(parsing: [UInt8]("{\"a\":\"".utf8) + [0xff] + [UInt8]("\"}".utf8))
        }
    }
}
