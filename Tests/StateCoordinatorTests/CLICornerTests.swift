import Foundation
import Testing

@testable import StateCoordinator

/// Core-correctness items 9–11 and 13, tried as an operator would: verify under load and after a
/// crash, the original bot's plain JSON file, init --force over history, negative numbers.
@Suite("statectl: operators' corners")
struct CLICornerTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    // MARK: Item 13

    @Test func aNegativeNumberIsAValueWithoutDoubleDash() throws {
        #expect(try statectl("init").status == 0)
        #expect(try statectl("set", "/x", "-0.25").status == 0)
        #expect(try statectl("incr", "/n", "-3").status == 0)
        #expect(try statectl("incr", "/n", "--expect-version", "2", "-1e1").status == 0)
        #expect(try statectl("set", "/y", "--", "-7").status == 0, "the old form still works")
        #expect(try statectl("get").stdout.contains(#""n" : -13"#))
        #expect(try statectl("get", "/x").stdout == "-0.25\n")
        let typo = try statectl("set", "/x", "1", "--bogus")
        #expect(typo.status == 2 && typo.stderr.contains("Unknown option '--bogus'"), "\(typo)")
        expectGolden(typo, "unknown-option", replacing: [(dir.path, "$DIR")])
        #expect(try statectl("incr", "/n", "-x").status == 2)
        // A mistyped subcommand is named as such, with a suggestion, not as an unknown --dir.
        expectGolden(try statectl("sett", "/x", "1"), "unknown-subcommand", replacing: [(dir.path, "$DIR")])
        expectGolden(try statectl.run(["frobnicate"]), "unknown-subcommand-far")
        #expect(try statectl("set", "/x").status == 2)
    }

    // MARK: Item 10

    @Test func theOriginalBotsPlainJSONFileIsReportedWithTheImportCommandAndNothingIsTouched() throws {
        let file = dir.file("trading_state.json")
        let original = Data(#"{"halt": false, "positions": {"AAPL": 10}}"#.utf8)
        try original.write(to: URL(fileURLWithPath: file))
        for command in [["get"], ["set", "/halt", "true"], ["status"], ["verify"], ["watch", "--count", "1"], ["history"], ["init"]] {
            let result = try statectl.run(["--dir", dir.path, "--name", "trading_state"] + command)
            #expect(result.status == 5, "\(command): \(result)")
            #expect(result.stderr.contains("is a plain JSON file, not a StateCoordinator store") || result.stdout.contains("plain JSON"), "\(command): \(result)")
            expectGolden(result, "plain-json-" + command[0], replacing: [(dir.path, "$DIR")])
            #expect(try dir.names() == ["trading_state.json"], "\(command) touched the directory")
        }
        #expect(try dir.contents("trading_state.json") == original)
        // The command the hint gives works as it is.
        let hint = try statectl("--name", "trading_state", "get").stderr
        let command = try #require(hint.range(of: "Import it where it lies: ").map { hint[$0.upperBound...] }?.components(separatedBy: " (it becomes").first)
        #expect(try statectl.shell(String(command)).status == 0, "\(command)")
        #expect(try statectl("--name", "trading_state", "get", "/positions/AAPL").stdout == "10\n")
        #expect(try dir.contents("trading_state.plain.json") == original, "the bot's file is kept whole")
        #expect(try dir.names() == ["trading_state.json", "trading_state.lock", "trading_state.plain.json"])
        #expect(throws: StateStoreError.self) { try StateStore<JSONValue>(directory: dir.path, name: "nothing-here") }
    }

    @Test func theLibrarySaysTheSame() throws {
        try Data(#"{"halt": false}"#.utf8).write(to: URL(fileURLWithPath: dir.file("trading_state.json")))
        #expect {
            try StateStore<JSONValue>(directory: dir.path, name: "trading_state")
        } throws: { error in
            let error = error as? StateStoreError
            return error?.code == .unverifiable && error?.hint?.contains("importPlainJSON") == true
        }
        #expect(try dir.names() == ["trading_state.json"])
    }

    // MARK: Item 11

    @Test func initForceOverAStoreWithHistoryVerifiesAndKeepsTheOldHistoryAside() throws {
        #expect(try statectl("init", "--keep-history", "5").status == 0)
        for n in 1...7 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        #expect(try statectl("init", "--force").status == 0)
        let verify = try statectl("verify")
        #expect(verify.status == 0 && verify.stdout.hasPrefix("ok: version 8"), "\(verify)")
        let aside = try #require(try dir.names().first { $0.hasPrefix("state.history.replaced-") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file(aside)).count == 5, "the old versions are kept")
        #expect(try statectl("init", "--force", "--keep-history", "2").status == 0)
        #expect(try statectl("set", "/n", "1").status == 0)
        #expect(try statectl("verify").status == 0)
    }

    // MARK: Item 9

    @Test func verifyListsLeftoversAsWarningsAndDamageWithExitFive() throws {
        #expect(try statectl("init", "--keep-history", "3").status == 0)
        #expect(try statectl("set", "/a", "1").status == 0)
        // What a writer that died after linking the current version and creating its temp file leaves.
        try plantOldFile(dir.file(".state.tmp-crashed"))
        try FileManager.default.linkItem(atPath: dir.file("state.json"), toPath: dir.file("state.history/00000000000000000001.json"))
        let leftovers = try statectl("verify")
        #expect(leftovers.status == 0, "\(leftovers)")
        #expect(leftovers.stdout.components(separatedBy: "warning: ").count == 3, "\(leftovers)")
        #expect(leftovers.stdout.contains("2 leftovers that writers repair by themselves"))
        // A missing lockfile is damage, listed with everything else.
        try FileManager.default.removeItem(atPath: dir.file("state.lock"))
        let damaged = try statectl("verify")
        #expect(damaged.status == 5)
        #expect(damaged.stdout.contains("state.lock does not exist"), "\(damaged)")
        #expect(damaged.stdout.contains("warning: "), "the leftovers are still listed")
        #expect(try statectl("get", "/a").stdout == "1\n", "readers need no lockfile")
        let write = try statectl("set", "/a", "2")
        #expect(write.status == 6 && write.stderr.contains("no lockfile"), "\(write)")
        expectGolden(write, "write-without-lockfile", replacing: [(dir.path, "$DIR")])
        #expect(FileManager.default.createFile(atPath: dir.file("state.lock"), contents: nil, attributes: [.posixPermissions: 0o600]))
        #expect(try statectl("set", "/a", "2").status == 0)
        let repaired = try statectl("verify")
        #expect(repaired.status == 0 && !repaired.stdout.contains("warning"), "\(repaired)")
    }
}

extension ProcessTests {
    @Suite("verify under load")
    struct VerifyUnderLoadTests {
        let dir = TemporaryDirectory()

        @Test func verifyNeverFlapsWhileThousandsOfCommitsLand() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
            let writers = try (0..<2).map { _ in try RunningHelper(["incr-fast", dir.path, "20000"]) }
            defer { writers.forEach { $0.signal(SIGKILL) } }
            let cli = CLI(directory: dir.path)
            var runs = 0, sawLoad = false
            let start = try StateStore<JSONValue>(directory: dir.path).read().version
            while runs < 40 {
                let result = try cli("verify")
                #expect(result.status == 0, "\(result)")
                runs += 1
                let now = try StateStore<JSONValue>(directory: dir.path).read().version
                sawLoad = sawLoad || now > start + 100
            }
            #expect(sawLoad, "the writers were committing meanwhile")
        }
    }
}
