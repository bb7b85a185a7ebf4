import Foundation
import Testing

@testable @_spi(Diagnostics) import StateCoordinator

extension ProcessTests {
/// Real writer and reader processes, real signals, real foreign lock holders.
@Suite("Multiple processes")
struct MultiProcessTests {
    let dir = TemporaryDirectory()

    private func createStore(keepHistory: Int = 0) throws -> StateStore<JSONValue> {
        try StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: keepHistory))
    }

    private func counter(_ snapshot: StateSnapshot<JSONValue>) -> Int64 { snapshot.state["counter"]?.intValue ?? 0 }

    /// "<version> <counter>" lines of the helper's acknowledged commits.
    private func acknowledged(_ output: String) -> [(version: UInt64, counter: Int64)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let version = UInt64(fields[0]), let counter = Int64(fields[1]) else { return nil }
            return (version, counter)
        }
    }

    @Test func eightProcessesIncrementingOneCounterLoseNothing() throws {
        let store = try createStore()
        let writers = try (0..<8).map { try RunningHelper(["incr", dir.path, "200", "writer-\($0)"]) }
        var versions: [UInt64] = []
        for writer in writers {
            let result = writer.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
            versions += acknowledged(result.stdout).map(\.version)
        }
        let final = try store.read()
        #expect(counter(final) == 1600)
        #expect(final.version == 1600)
        #expect(versions.sorted() == Array(1...1600))
    }

    @Test func writersKilledAtRandomInstantsNeverCorruptOrLoseAcknowledgedUpdates() throws {
        let store = try createStore()
        var kills = 0
        var lastVersion: UInt64 = 0
        var highestAcknowledged: Int64 = 0
        var generator = SystemRandomNumberGenerator()
        while kills < 200 {
            let writer = try RunningHelper(["incr", dir.path, "1000000000"])
            #expect(writer.waitForLine { _ in true }, "writer never committed")
            usleep(UInt32.random(in: 0...4_000, using: &generator))
            writer.signal(SIGKILL)
            let result = writer.waitForExit()
            if writer.process.terminationReason == .uncaughtSignal { kills += 1 }
            highestAcknowledged = max(highestAcknowledged, acknowledged(result.stdout).map(\.counter).max() ?? 0)

            let snapshot = try store.read()  // verifies the checksum
            #expect(snapshot.version >= lastVersion)
            #expect(counter(snapshot) == Int64(snapshot.version))
            #expect(counter(snapshot) >= highestAcknowledged)
            lastVersion = snapshot.version
        }
        try store.update { try $0.set(.int((($0["counter"]?.intValue) ?? 0) + 1), forKey: "counter") }
        #expect(try dir.tempFiles().isEmpty)
        #expect(kills >= 200)
    }

    @Test(arguments: [("write", 0 as UInt64), ("fsync", 0), ("rename", 1), ("link", 0)])
    func crashBetweenTwoStepsLeavesAVerifiableStateAndTheNextWriterCleansUp(call: String, expectedVersion: UInt64) throws {
        let store = try createStore(keepHistory: 2)
        let result = try HelperProcess.run(["crash-after", dir.path, call, "1"])
        #expect(result.status == 42, "\(result.stderr)")
        #expect(try store.read().version == expectedVersion)
        #expect(try dir.tempFiles().count == (expectedVersion == 0 ? 1 : 0))
        try store.update { try $0.set(.int(Int64(expectedVersion) + 1), forKey: "counter") }
        #expect(try dir.tempFiles().isEmpty)
        #expect(try store.read().version == expectedVersion + 1)
    }

    @Test func aKilledLockHolderReleasesTheLockAtOnce() throws {
        let store = try createStore()
        let holder = try RunningHelper(["hold-lock", dir.path, "600000"])
        #expect(holder.waitForLine { $0 == "locked" })
        holder.signal(SIGKILL)
        _ = holder.waitForExit()
        let result = try HelperProcess.run(["update-once", dir.path, "2000"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try store.read().version == 1)
    }

    @Test func aStoppedHolderMakesOthersTimeOutNamingItsPid() throws {
        let store = try createStore()
        let holder = try RunningHelper(["hold-lock", dir.path, "1500"])
        #expect(holder.waitForLine { $0 == "locked" })
        holder.stop()
        let timedOut = try HelperProcess.run(["update-once", dir.path, "300"])
        #expect(timedOut.status == 1)
        #expect(timedOut.stderr.contains("lock timeout"))
        #expect(timedOut.stderr.contains("pid \(holder.pid)"))
        #expect(timedOut.stderr.contains("StateCoordinatorTestHelper hold-lock"))
        holder.signal(SIGCONT)
        let after = try HelperProcess.run(["update-once", dir.path, "20000"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(holder.waitForExit().status == 0)
        #expect(try store.read().version == 2)
    }

    @Test func utilLinuxFlockExcludesOurWriters() throws {
        let store = try createStore()
        let lockPath = dir.file("state.lock")
        let foreign = try RunningHelper(["-c", "exec flock \(lockPath) sh -c 'echo locked; sleep 2'"], executable: URL(fileURLWithPath: "/bin/sh"))
        #expect(foreign.waitForLine { $0 == "locked" })
        let started = ContinuousClock.now
        let timedOut = try HelperProcess.run(["update-once", dir.path, "200"])
        #expect(timedOut.status == 1)
        #expect(timedOut.stderr.contains("flock \(lockPath)"), "\(timedOut.stderr)")
        let result = try HelperProcess.run(["update-once", dir.path, "20000"])
        let waited = ContinuousClock.now - started
        #expect(result.status == 0, "\(result.stderr)")
        #expect(waited >= .milliseconds(1500), "the writer got in while flock(1) held the lock")
        #expect(try store.read().version == 1)
        _ = foreign.waitForExit()
    }

    @Test func pythonFcntlFlockHolderIsNamed() throws {
        _ = try createStore()
        let script = "import fcntl,sys,time\nf=open(sys.argv[1])\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)"
        let python = try RunningHelper(["python3", "-c", script, dir.file("state.lock")], executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { python.signal(SIGKILL); _ = python.waitForExit() }
        #expect(python.waitForLine { $0 == "locked" })
        let timedOut = try HelperProcess.run(["update-once", dir.path, "200"])
        #expect(timedOut.status == 1)
        #expect(timedOut.stderr.contains("held by pid \(python.pid), uid \(getuid()) ("), "\(timedOut.stderr)")
        #expect(timedOut.stderr.contains("python3 -c import fcntl,sys,time f=open"), "\(timedOut.stderr)")
        #expect(timedOut.stderr.split(separator: "\n").count == 1)
    }

    @Test func theHolderIsFoundOnAHostWithManyLocks() throws {
        // 400 POSIX locks of another process (a database, a browser) fill /proc/locks well past
        // the 4 KiB that one read of it returns. The kernel lists the locks taken on the lowest
        // CPU first, so the noise is taken on the first CPU this test may use, the holder's lock
        // on the last (with one CPU the holder's newer lock is listed first, and this passes
        // without testing the cut).
        let noise = try RunningHelper(
            ["python3", "-c", """
                import fcntl, os, sys
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
                f = open(sys.argv[1], "w")
                for i in range(400): fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * i)
                print("locked", flush=True)
                sys.stdin.read()
                """, dir.file("noise")],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { noise.signal(SIGKILL); _ = noise.waitForExit() }
        #expect(noise.waitForLine { $0 == "locked" })
        #expect((ProcFile.text("/proc/locks")?.utf8.count ?? 0) > 16 << 10)
        _ = try createStore()
        let holder = try RunningHelper(
            ["python3", "-c", """
                import fcntl, os, sys
                os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
                f = open(sys.argv[1])
                fcntl.flock(f, fcntl.LOCK_EX)
                print("locked", flush=True)
                sys.stdin.read()
                """, dir.file("state.lock")],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { holder.signal(SIGKILL); _ = holder.waitForExit() }
        #expect(holder.waitForLine { $0 == "locked" })
        let status = try CLI(directory: dir.path)("status", "--json")
        #expect(status.stdout.contains("\"pid\" : \(holder.pid)") && status.stdout.contains("python3 -c import fcntl"), "\(status.stdout)")
    }

    @Test func readersInATightLoopNeverSeeATornOrUnverifiableState() throws {
        let store = try createStore()
        let readers = try (0..<2).map { _ in try RunningHelper(["read-loop", dir.path]) }
        let writer = try RunningHelper(["incr", dir.path, "1000"])
        #expect(writer.waitForExit().status == 0)
        for reader in readers {
            reader.closeInput()
            let result = reader.waitForExit()
            #expect(result.status == 0, "\(result.stderr)")
            let reads = result.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            #expect(reads > 1000, "reader made only \(reads) reads")
        }
        #expect(try store.read().version == 1000)
    }
}
}
