import Foundation
import Testing

@testable import StateCoordinator

extension ProcessTests {
/// The Python package (Sources/python), driven against Swift writers and readers: the protocol's
/// one Python implementation, which the protocol article points to, is the tested one.
@Suite("Python participant: the statecoordinator package")
struct PythonParticipantTests {
    let dir = TemporaryDirectory()

    /// A prelude that imports the package under the names the tests call (read_state, update,
    /// parse_json, dump_json): Vectors/package_participant.py.
    static func documentedScript() throws -> String {
        let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors").path
        return "import sys as _sys\n_sys.path.insert(0, \(String(reflecting: vectors)))\nfrom package_participant import *\n"
    }

    func python(_ program: String, _ arguments: [String] = []) throws -> RunningHelper {
        try RunningHelper(
            ["python3", "-c", try Self.documentedScript() + "\n" + program] + arguments,
            executable: URL(fileURLWithPath: "/usr/bin/env"))
    }

    @Test func pythonAndSwiftWritersShareOneCounterWithoutLosingUpdates() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        let increment = """
            import sys
            for _ in range(200):
                update(sys.argv[1], lambda s: {**s, "counter": s.get("counter", 0) + 1}, label="py")
            """
        let writers = try [
            python(increment, [dir.path]), python(increment, [dir.path]),
            RunningHelper(["incr", dir.path, "200"]), RunningHelper(["incr", dir.path, "200"]),
        ]
        for writer in writers {
            let result = writer.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
        }
        let final = try store.read()
        #expect(final.version == 800)
        #expect(final.state["counter"] == 800)
        #expect(try store.history().map(\.version) == [799, 798, 797])
        #expect(try dir.tempFiles().isEmpty)
    }

    @Test func aSwiftReaderDatesAPythonRenameWithinAClockTick() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let reader = try await StateObservation().reader(in: store)
        // os.replace with no stat before it: the coarse clock stamps the rename.
        let program = "import sys, time\nbefore = time.time()\nupdate(sys.argv[1], lambda s: {**s, 'halt': True})\nprint(before, time.time())"
        let result = try python(program, [dir.path]).waitForExit()
        #expect(result.status == 0, "\(result.stderr)")
        let times = result.stdout.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(times.count == 2)
        #expect(LockHolderWait.until { reader.current.version == 1 })
        let snapshot = reader.current
        let replacedAt = try #require(snapshot.replacedAt).timeIntervalSince1970
        #expect(replacedAt > times[0] - 0.01 && replacedAt <= times[1] + 1e-6, "renamed at \(replacedAt), update ran \(times)")
        #expect(snapshot.loadedAt.timeIntervalSince1970 >= replacedAt)
    }

    @Test func pythonReadsAndVerifiesWhatSwiftWrote() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, initial: ["big": .int(Int64.max), "px": 101.25])
        try store.replace(with: ["big": .int(Int64.max), "px": 101.25, "halt": true])
        let reader = try python("import sys\nh, s = read_state(sys.argv[1])\nprint(h['version'], s['big'], s['px'], s['halt'])", [dir.path])
        let result = reader.waitForExit()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1 9223372036854775807 101.25 True\n")
    }

    @Test func pythonCommitsOverAHistoryLinkLeftByACrashAndRefusesNaN() throws {
        let store = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        try store.replace(with: ["n": 1])
        // A writer that died between linking the current version and its rename left this link.
        try FileManager.default.linkItem(atPath: dir.file("state.json"), toPath: dir.file("state.history/00000000000000000001.json"))
        let update = try python("import sys\nprint(update(sys.argv[1], lambda s: {**s, 'n': 2}))", [dir.path]).waitForExit()
        #expect(update.status == 0 && update.stdout == "2\n", "\(update.stderr)")
        #expect(try store.read().state["n"] == 2)
        #expect(store.verify().isHealthy)
        let nan = try python("import sys\nupdate(sys.argv[1], lambda s: {**s, 'px': float('nan')})", [dir.path]).waitForExit()
        #expect(nan.status != 0 && nan.stderr.contains("is not JSON") && nan.stderr.contains("nothing was committed"), "\(nan.stderr)")
        #expect(try store.read().version == 2, "nothing was committed")
        #expect(try dir.tempFiles().isEmpty)
    }

    @Test func pythonRefusesACorruptFile() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path)
        var bytes = try dir.contents("state.json")
        bytes[bytes.count - 2] = UInt8(ascii: "]")
        try bytes.write(to: URL(fileURLWithPath: dir.file("state.json")))
        let result = try python("import sys\nread_state(sys.argv[1])", [dir.path]).waitForExit()
        #expect(result.status != 0)
        #expect(result.stderr.contains("Corrupt") && result.stderr.contains("fails its checksum"), "\(result.stderr)")
    }
}
}
