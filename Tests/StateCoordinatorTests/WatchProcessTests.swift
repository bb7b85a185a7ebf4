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
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let readers = try (0..<4).map { _ in try RunningHelper(["watch", dir.path] + mode) }
        for reader in readers { #expect(reader.waitForLine { $0 == "v 0 0" }) }
        let writer = try RunningHelper(["incr", dir.path, "2000"])
        #expect(writer.waitForExit().status == 0)
        #expect(try store.read().version == 2000)
        // How soon the readers get there is the benchmark's to measure (a shared machine times
        // nothing reliably); that they all get there, in order, is checked here.
        for reader in readers {
            #expect(reader.waitForLine(timeout: .seconds(30)) { $0 == "v 2000 2000" }, "reader behind: \(versions(reader).last ?? 0)")
            let seen = versions(reader)
            #expect(seen == seen.sorted() && Set(seen).count == seen.count, "versions not strictly increasing")
            #expect(!reader.lines.contains { $0.hasPrefix("problem") })
        }
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
        _ = try StateStore<JSONValue>.create(directory: dir.path)
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
        _ = try StateStore<JSONValue>.create(directory: dir.path)
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

    /// The numbers of a helper's final "stats" line.
    private func statistics(_ stdout: String) -> (delivered: Int, missed: Int, problems: Int, resynchronizations: Int, mode: String)? {
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("stats ") }) else { return nil }
        let fields = line.split(separator: " ", maxSplits: 5).map(String.init)
        guard fields.count == 6, let d = Int(fields[1]), let m = Int(fields[2]), let p = Int(fields[3]), let r = Int(fields[4]) else {
            return nil
        }
        return (d, m, p, r, fields[5])
    }

    /// A real kernel queue overflow, not a scripted one: the reader's inotify queue is made 16
    /// events long, the reader is stopped while 40 commits queue about 120 events, then resumed.
    @Test(.enabled(if: geteuid() == 0, "lowering fs.inotify.max_queued_events needs root (CI runs as root)"))
    func aRealQueueOverflowEndsInOneFullReloadOfTheNewestVersion() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path)
        let sysctl = "/proc/sys/fs/inotify/max_queued_events"
        let original = try String(contentsOfFile: sysctl, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        /// Writes a sysctl with one write(2) into the existing file; true on success.
        func set(_ value: String) -> Bool {
            let fd = open(sysctl, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return value.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) } == value.utf8.count
        }
        // The limit is read when an inotify instance is created: only the reader started in this
        // window gets the short queue.
        try #require(set("16"), "could not write \(sysctl): \(String(cString: strerror(errno)))")
        let reader: RunningHelper
        do {
            defer { #expect(set(original), "could not restore \(sysctl) to \(original)") }
            reader = try RunningHelper(["watch", dir.path])
            #expect(reader.waitForLine { $0 == "v 0 0" }, "\(reader.lines)")
        }
        #expect(try String(contentsOfFile: sysctl, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == original)
        reader.stop()
        #expect(try HelperProcess.run(["incr", dir.path, "40"]).status == 0)
        reader.signal(SIGCONT)
        #expect(reader.waitForLine(timeout: .seconds(5)) { $0 == "v 40 40" }, "\(reader.lines)")
        // The newest version may arrive through an event queued before the overflow: wait until
        // the overflow itself was handled.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, (reader.lines.last.flatMap(statistics)?.resynchronizations ?? 0) < 1 {
            reader.send(Data("stats\n".utf8))
            _ = reader.waitForLine(timeout: .milliseconds(200)) { _ in reader.lines.last?.hasPrefix("stats") == true }
        }
        reader.closeInput()
        let result = reader.waitForExit()
        #expect(result.status == 0, "\(result.stderr)")
        let stats = try #require(statistics(result.stdout), "\(result.stdout)")
        #expect(stats.resynchronizations >= 1, "no IN_Q_OVERFLOW was handled: \(result.stdout)")
        #expect(stats.problems == 0 && stats.mode == "inotify")
    }

    /// A user out of inotify instances (`fs.inotify.max_user_instances`, 128 by default): the
    /// reader, run as that user, follows by polling and says why.
    @Test(.enabled(if: geteuid() == 0, "running processes as another user needs root (CI runs as root)"))
    func aUserOutOfInotifyInstancesIsFollowedByPolling() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(fileMode: 0o644))
        chmod(dir.path, 0o755)
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups"]
        let exhaust = """
            import ctypes, sys
            libc = ctypes.CDLL(None, use_errno=True)
            held = []
            while (fd := libc.inotify_init1(0o2000000)) >= 0: held.append(fd)
            print(len(held), ctypes.get_errno(), flush=True)
            sys.stdin.read()
            """
        let hog = try RunningHelper(
            asNobody + ["/usr/bin/python3", "-c", exhaust], executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
        defer {
            hog.closeInput()
            _ = hog.waitForExit()
        }
        #expect(hog.waitForLine { $0.hasSuffix(" \(EMFILE)") }, "\(hog.lines)")
        let reader = try RunningHelper(
            asNobody + [HelperProcess.url.path, "watch", dir.path], executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
        #expect(reader.waitForLine { $0 == "v 0 0" }, "\(reader.lines)")
        #expect(try HelperProcess.run(["incr", dir.path, "5"]).status == 0)
        #expect(reader.waitForLine(timeout: .seconds(5)) { $0 == "v 5 5" }, "\(reader.lines)")
        reader.closeInput()
        let result = reader.waitForExit()
        #expect(result.status == 0, "\(result.stderr)")
        let stats = try #require(statistics(result.stdout), "\(result.stdout)")
        #expect(stats.mode.hasPrefix("polling") && stats.mode.contains("too many inotify instances"), "\(stats.mode)")
    }
}
}
