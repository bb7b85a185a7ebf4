import Foundation
import Testing

/// Bad input: nothing committed, one clear line saying what was wrong, the documented exit code.
@Suite("statectl: bad input")
struct CLIBadInputTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    private func unchanged(_ body: () throws -> CLI.Result, code: Int32, mentions: String, golden: String) throws {
        let before = try dir.contents("state.json")
        let result = try body()
        #expect(result.status == code, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.oneDiagnosticLine, "\(result)")
        #expect(result.stderr.contains(mentions), "\(result)")
        expectGolden(result, golden, replacing: [(dir.path, "$DIR")])
        #expect(try dir.contents("state.json") == before)
    }

    init() throws {
        _ = try CLI(directory: dir.path)("init", "--max-size", "1000")
        _ = try CLI(directory: dir.path)("set", "", #"{"a": 1, "arr": [1]}"#)
    }

    @Test func invalidJSONOnStdinOrInAFileSaysWhere() throws {
        try unchanged({ try statectl("put", stdin: "{\n\"a\": [1,,2]}") }, code: 1, mentions: "line 2, column 9", golden: "bad-input-01")
        let file = dir.file("bad.json")
        try Data("[1, 2".utf8).write(to: URL(fileURLWithPath: file))
        try unchanged({ try statectl("patch", file) }, code: 1, mentions: "bad.json is line 1, column 6", golden: "bad-input-02")
    }

    @Test func nonUTF8InFilesOnStdinAndInArgumentsIsRefused() throws {
        try unchanged({ try statectl.shell("printf '{\"a\":\"\\377\"}' | statectl put") }, code: 1, mentions: "not valid UTF-8", golden: "bad-input-03")
        let file = dir.file("latin1.json")
        try Data([0x22, 0xE9, 0x22]).write(to: URL(fileURLWithPath: file))
        try unchanged({ try statectl("put", file) }, code: 1, mentions: "line 1, column 2: not valid UTF-8", golden: "bad-input-04")
        try unchanged({ try statectl.shell("statectl set /a \"$(printf '\"\\377\"')\"") }, code: 1, mentions: "argument 3 is not valid UTF-8", golden: "bad-input-05")
    }

    @Test func aMissingInputFileIsAnOrdinaryError() throws {
        try unchanged({ try statectl("put", dir.file("absent.json")) }, code: 1, mentions: "cannot read", golden: "bad-input-06")
        let empty = TemporaryDirectory()
        let result = try CLI(directory: empty.path)("init", "--from", dir.file("absent.json"))
        #expect(result.status == 1 && result.stderr.contains("cannot read") && result.oneDiagnosticLine, "\(result)")
        expectGolden(result, "bad-input-init-from-missing", replacing: [(dir.path, "$DIR")])
        #expect(try empty.names().isEmpty)
    }

    @Test func aValueThatIsNotJSONIsAUsageErrorWithAHint() throws {
        try unchanged({ try statectl("set", "/a", "AAPL") }, code: 2, mentions: #"quote it as JSON: '"AAPL"'"#, golden: "bad-input-07")
    }

    @Test func pointersThatDoNotFitTheDocument() throws {
        try unchanged({ try statectl("set", "/a/b", "1") }, code: 6, mentions: "/a is a number", golden: "bad-input-08")
        try unchanged({ try statectl("set", "/arr/5", "1") }, code: 6, mentions: "array of 1", golden: "bad-input-09")
        try unchanged({ try statectl("get", "/missing") }, code: 6, mentions: "no member", golden: "bad-input-10")
        try unchanged({ try statectl("set", "a", "1") }, code: 2, mentions: "starts with '/'", golden: "bad-input-11")
        try unchanged({ try statectl("get", "/a~2") }, code: 2, mentions: "'~' must be followed", golden: "bad-input-12")
    }

    @Test func inputsLargerThanTheStoresLimitAreRefused() throws {
        let big = "[\"" + String(repeating: "x", count: 2000) + "\"]"
        try unchanged({ try statectl("put", stdin: big) }, code: 1, mentions: "limit of 1000 bytes", golden: "bad-input-13")
        try unchanged({ try statectl("patch", stdin: "{\"b\": \"" + String(repeating: "y", count: 990) + "\"}") }, code: 1, mentions: "limit of 1000 bytes", golden: "bad-input-14")
    }

    @Test func aMissingStoreIsNotFoundAndNothingIsCreated() throws {
        let empty = TemporaryDirectory()
        let cli = CLI(directory: empty.path)
        for command in [["get"], ["set", "/a", "1"], ["status"], ["watch", "--count", "1"], ["verify"], ["history"]] {
            let result = try cli.run(["--dir", empty.path] + command)
            #expect(result.status == 6 && result.oneDiagnosticLine && result.stderr.contains("init"), "\(command): \(result)")
            expectGolden(result, "missing-store-" + command[0], replacing: [(empty.path, "$DIR")])
        }
        #expect(try empty.names().isEmpty)
        #expect(try CLI(directory: empty.file("absent"))("get").status == 6)
    }

    @Test func unknownArgumentsAreUsageErrors() throws {
        #expect(try statectl("frobnicate").status == 2)
        #expect(try statectl("get", "--nope").status == 2)
        #expect(try statectl("set", "/a").status == 2)
        #expect(try statectl("init", "--mode", "999").status == 2)
    }

    /// A mode its owner cannot read and write would make a store nobody but root can use: refused
    /// before anything is created (the owner's writer used to create it, then fail to read it).
    @Test(arguments: ["0220", "0200", "0400", "0044"])
    func aModeTheOwnerCannotReadAndWriteIsRefused(_ mode: String) throws {
        let empty = TemporaryDirectory()
        let refused = try CLI(directory: empty.path)("init", "--mode", mode)
        #expect(refused.status == 2 && refused.stderr.contains("include 0o600") && refused.oneDiagnosticLine, "\(refused)")
        #expect(try empty.names().isEmpty, "nothing was created")
    }

    @Test func aStoreDirectoryWithoutPermissionIsRefused() throws {
        try #require(geteuid() == 0, "needs root to run statectl as another user")
        chmod(dir.path, 0o700)
        let asNobody = try statectl.shell("setpriv --reuid=65534 --regid=65534 --clear-groups statectl get")
        #expect(asNobody.status == 1 && asNobody.stderr.contains("permission denied") && asNobody.oneDiagnosticLine, "\(asNobody)")
        expectGolden(asNobody, "permission-denied", replacing: [(dir.path, "$DIR")])
    }
}
