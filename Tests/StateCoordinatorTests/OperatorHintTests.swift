import Foundation
import Testing

@testable import StateCoordinator

/// Naming the store once, errors that say why, and a watch that cleans up after itself.
@Suite("Operators: names, reasons, clean exits")
struct OperatorHintTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    // MARK: Item 7

    @Test func statectlNameSetsTheDefaultStoreAndAMissingNameListsTheStoresThere() throws {
        #expect(try statectl("--name", "trading_state", "init").status == 0)
        #expect(try statectl("--name", "risk", "init").status == 0)
        let named = try statectl("set", "/halt", "true", environment: ["STATECTL_NAME": "trading_state"])
        #expect(named.status == 0 && named.stdout == "1\n", "\(named)")
        #expect(try statectl("--name", "trading_state", "get", "/halt").stdout == "true\n")
        #expect(try statectl("--name", "risk", "get", "/halt", environment: ["STATECTL_NAME": "trading_state"]).status == 6, "--name wins")

        let missing = try statectl("get")
        #expect(missing.status == 6 && missing.oneDiagnosticLine, "\(missing)")
        #expect(missing.stderr.contains(#"No store named "state" in \#(dir.path)"#) && missing.stderr.contains("found: risk, trading_state"), "\(missing)")
        let typo = try statectl("--name", "trading-state", "status")
        #expect(typo.status == 6 && typo.stderr.contains("found: risk, trading_state"), "\(typo)")
    }

    @Test func theSidecarListsTheStoresWhenANameIsNotFound() throws {
        #expect(try statectl("--name", "trading_state", "init").status == 0)
        let binary = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-sidecar")
        let sidecar = try RunningHelper(["--dir", dir.path, "--name", "state", "--listen", "127.0.0.1:0", "--loopback-without-token"], executable: binary)
        sidecar.closeInput()
        let (status, _, stderr, timedOut) = sidecar.waitForExit(timeout: .seconds(30))
        #expect(!timedOut && status != 0, "\(stderr)")
        #expect(stderr.contains("found: trading_state"), "\(stderr)")
    }

    // MARK: Item 8

    @Test func aFileThatCannotBeReadSaysWhy() throws {
        try FileManager.default.createDirectory(atPath: dir.file("adir"), withIntermediateDirectories: false)
        let missing = try statectl("init", "--from", dir.file("nope.json"))
        #expect(missing.status == 1 && missing.stderr == "statectl: cannot read \(dir.file("nope.json")): No such file or directory; nothing was created.\n", "\(missing)")
        let directory = try statectl("init", "--from", dir.file("adir"))
        #expect(directory.status == 1 && directory.stderr.contains("Is a directory"), "\(directory)")
        let put = try statectl("put", dir.file("nope.json"))
        #expect(put.stderr.contains("No such file or directory") || put.stderr.contains("No store"), "\(put)")
        #expect(try dir.names() == ["adir"], "nothing was created")
    }

    // MARK: Item 12

    @Test func aRegisteredWatchThatEndsNormallyRemovesItsEntry() throws {
        #expect(try statectl("init").status == 0)
        for round in 1...5 {
            let watch = try statectl("watch", "--as", "probe-\(round)", "--ack", "--count", "1")
            #expect(watch.status == 0, "\(watch)")
            #expect(try dir.names(in: "state.readers") == [], "round \(round): the entry is gone once statectl exits")
        }
        let readers = try statectl("readers", "--json")
        #expect(!readers.stdout.contains("probe-"), "\(readers)")
    }
}
