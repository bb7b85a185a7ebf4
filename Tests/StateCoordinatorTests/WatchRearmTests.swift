import Foundation
import Testing

@testable import StateCoordinator

/// Core-correctness item 1: a watch re-armed after its directory was deleted, recreated or moved
/// away is live (with the consistency check off, inotify alone delivers every version), and
/// libinotifytools prints nothing.
extension ProcessTests {
    @Suite("Re-armed watches")
    struct WatchRearmTests {
        let dir = TemporaryDirectory()

        /// Commits one increment at a time and waits for the reader to print each version.
        private func commitEach(_ count: Int, reader: RunningHelper) throws {
            for n in 1...count {
                #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0)
                #expect(reader.waitForLine(timeout: .seconds(10)) { $0 == "v \(n) \(n)" }, "\(reader.lines)")
            }
        }

        private func recreate(reader: RunningHelper, replacing removal: () throws -> Void) throws {
            try removal()
            #expect(reader.waitForLine { $0 == "gone" })
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
            let before = reader.lines.filter { $0.hasPrefix("reset ") }.count
            #expect(try HelperProcess.run(["create", dir.path]).status == 0)
            // The re-armed watcher reports the new store and its version 0 before anything else is committed.
            #expect(reader.waitForLine { _ in reader.lines.filter { $0.hasPrefix("reset ") }.count > before })
        }

        @Test func afterDeleteAndRecreateInotifyAloneDeliversEveryVersion() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path)
            let reader = try RunningHelper(["watch", dir.path, "nocheck"])
            #expect(reader.waitForLine { $0 == "v 0 0" })
            for _ in 0..<2 {  // twice: the second re-arm must not find the first one's record either
                try recreate(reader: reader) { try FileManager.default.removeItem(atPath: dir.path) }
                try commitEach(5, reader: reader)
            }
            reader.closeInput()
            let result = reader.waitForExit()
            #expect(result.status == 0)
            #expect(result.stdout.contains("stats 13 0 0 "), "\(result.stdout)")  // 3 × version 0 + 10 commits, 0 missed
            #expect(result.stdout.contains(" inotify\n"))
            #expect(!result.stderr.contains("Failed to remove watch"), "\(result.stderr)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
        }

        /// The directory recreated and committed to at once, without waiting for the watcher: its
        /// parent's watch re-arms it at the directory's creation, before the first commits.
        @Test func aStoreRecreatedAndCommittedToAtOnceIsFollowedFromItsFirstVersion() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path)
            let reader = try RunningHelper(["watch", dir.path, "nocheck"])
            #expect(reader.waitForLine { $0 == "v 0 0" })
            try FileManager.default.removeItem(atPath: dir.path)
            #expect(reader.waitForLine { $0 == "gone" })
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
            #expect(try HelperProcess.run(["create", dir.path]).status == 0)
            for _ in 1...3 { #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0) }
            #expect(reader.waitForLine(timeout: .seconds(10)) { $0 == "v 3 3" }, "\(reader.lines)")
            reader.closeInput()
            let lines = reader.waitForExit().stdout.split(separator: "\n").map(String.init)
            let afterReset = lines.drop { !$0.hasPrefix("reset ") }.filter { $0.hasPrefix("v ") }
            #expect(afterReset == ["v 0 0", "v 1 1", "v 2 2", "v 3 3"], "\(lines)")
        }

        @Test func aDirectoryMovedAwayIsHandledLikeDeletion() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path)
            let moved = dir.path + ".moved"
            defer { try? FileManager.default.removeItem(atPath: moved) }
            let reader = try RunningHelper(["watch", dir.path, "nocheck"])
            #expect(reader.waitForLine { $0 == "v 0 0" })
            try recreate(reader: reader) { try FileManager.default.moveItem(atPath: dir.path, toPath: moved) }
            // Commits to the moved-away directory are not this path's store any more.
            #expect(try HelperProcess.run(["incr", moved, "7"]).status == 0)
            try commitEach(3, reader: reader)
            reader.closeInput()
            let result = reader.waitForExit()
            #expect(!result.stdout.contains("v 7 7"), "\(result.stdout)")
            #expect(result.stdout.contains("stats 5 0 0 "), "\(result.stdout)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
        }

        @Test func statectlWatchPrintsEveryVersionAcrossDeleteAndRecreate() throws {
            let cli = CLI(directory: dir.path)
            #expect(try cli("init").status == 0)
            let watcher = try RunningHelper(["--dir", dir.path, "watch"], executable: CLI.url)
            #expect(watcher.waitForLine { $0.contains("\"version\":0") })
            try FileManager.default.removeItem(atPath: dir.path)
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
            #expect(try cli("init").status == 0)
            #expect(watcher.waitForLine { _ in watcher.lines.filter { $0.contains("\"version\":0") }.count == 2 }, "\(watcher.lines)")
            for n in 1...4 {
                #expect(try cli("set", "/n", "\(n)").status == 0)
                #expect(watcher.waitForLine { $0.contains("\"version\":\(n)") }, "\(watcher.lines)")
            }
            watcher.signal(SIGTERM)
            let result = watcher.waitForExit()
            let versions = result.stdout.split(separator: "\n").compactMap { line -> Int? in
                guard let range = line.range(of: "\"version\":") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
            #expect(versions == [0, 0, 1, 2, 3, 4], "\(result.stdout)")
            #expect(!result.stderr.contains("Failed to remove watch"), "\(result.stderr)")
        }
    }
}
