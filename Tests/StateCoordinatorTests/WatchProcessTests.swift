import Foundation
import Testing

@testable import StateCoordinator

extension ProcessTests {
/// Reader processes following a writer process: what issue #3 requires in CI.
@Suite("Watching across processes")
struct WatchProcessTests {
    let dir = TemporaryDirectory()

    /// The versions a `watch` helper printed, in order.
    private func versions(_ reader: RunningHelper) -> [UInt64] {
        reader.lines.compactMap { line in
            let fields = line.split(separator: " ")
            return fields.first == "v" ? UInt64(fields[1]) : nil
        }
    }

    private func followOneWriter(mode: [String]) throws {
        let store = try StateStore<JSONValue>.create(in: dir.path)
        let readers = try (0..<4).map { _ in try RunningHelper(["watch", dir.path] + mode) }
        for reader in readers { #expect(reader.waitForLine { $0 == "v 0 0" }) }
        let writer = try RunningHelper(["incr", dir.path, "2000"])
        #expect(writer.waitForExit().status == 0)
        let finished = ContinuousClock.now
        #expect(try store.read().version == 2000)
        for reader in readers {
            #expect(reader.waitForLine(timeout: .seconds(1)) { $0 == "v 2000 2000" }, "reader behind: \(versions(reader).last ?? 0)")
            let seen = versions(reader)
            #expect(seen == seen.sorted() && Set(seen).count == seen.count, "versions not strictly increasing")
            #expect(!reader.lines.contains { $0.hasPrefix("problem") })
        }
        #expect(ContinuousClock.now - finished < .seconds(1.5))
        for reader in readers {
            reader.closeInput()
            let result = reader.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(mode.isEmpty ? "inotify" : "polling"))
        }
    }

    @Test func fourReaderProcessesFollowTwoThousandCommits() throws {
        try followOneWriter(mode: [])
    }

    @Test func forcedPollingFollowsTheSameWay() throws {
        try followOneWriter(mode: ["poll"])
    }

    @Test func readersResumeWhenTheDirectoryIsDeletedAndRecreated() throws {
        _ = try StateStore<JSONValue>.create(in: dir.path)
        let readers = try [RunningHelper(["watch", dir.path]), RunningHelper(["watch", dir.path, "poll"])]
        for reader in readers { #expect(reader.waitForLine { $0 == "v 0 0" }) }
        #expect(try HelperProcess.run(["incr", dir.path, "5"]).status == 0)
        for reader in readers { #expect(reader.waitForLine { $0 == "v 5 5" }) }

        try FileManager.default.removeItem(atPath: dir.path)
        for reader in readers { #expect(reader.waitForLine { $0 == "gone" }) }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
        #expect(try HelperProcess.run(["create", dir.path]).status == 0)
        #expect(try HelperProcess.run(["incr", dir.path, "3"]).status == 0)
        for reader in readers {
            #expect(reader.waitForLine { $0.hasPrefix("reset ") })
            #expect(reader.waitForLine { $0 == "v 3 3" }, "\(reader.lines)")
            reader.closeInput()
            #expect(reader.waitForExit().status == 0)
        }
    }

    @Test func aForeignInPlaceWriteIsReportedThenTheNextGoodCommitIsDelivered() throws {
        _ = try StateStore<JSONValue>.create(in: dir.path)
        let reader = try RunningHelper(["watch", dir.path])
        #expect(reader.waitForLine { $0 == "v 0 0" })
        // What `echo garbage > state.json` does: truncate and write the same inode in place.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("state.json")))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data("garbage\n".utf8))
        try handle.close()
        #expect(reader.waitForLine { $0.hasPrefix("problem") })
        #expect(try HelperProcess.run(["create", dir.path, "0", "force"]).status == 0)
        #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0)
        #expect(reader.waitForLine { $0.hasPrefix("v ") && $0 != "v 0 0" }, "\(reader.lines)")
        reader.closeInput()
        let result = reader.waitForExit()
        #expect(result.status == 0)
        #expect(result.stdout.contains("stats"))
    }
}
}
