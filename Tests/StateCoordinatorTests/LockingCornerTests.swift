import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) @_spi(Diagnostics) import StateCoordinator

/// Core-correctness items 5 and 7: timed-out lock waits stay bounded; a lockfile replaced under
/// a waiter or a holder is detected; a FIFO at the lockfile's name cannot block the commit queue.
extension ProcessTests {
    @Suite("Locking corners")
    struct LockingCornerTests {
        let dir = TemporaryDirectory()

        @Test func twoHundredTimeoutsAgainstAStoppedHolderKeepDescriptorsAndThreadsBounded() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path)
            let holder = try RunningHelper(["hold-lock", dir.path, "60000"])
            #expect(holder.waitForLine { $0 == "locked" })
            holder.stop()
            defer {
                holder.signal(SIGKILL)
                holder.signal(SIGCONT)
            }
            let bot = try RunningHelper(["timeouts", dir.path, "200"])
            #expect(bot.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("after ") })
            let numbers = { (prefix: String) -> [Int] in
                (bot.lines.first { $0.hasPrefix(prefix) } ?? "").split(separator: " ").dropFirst().compactMap { Int($0) }
            }
            let before = numbers("before "), after = numbers("after ")
            try #require(before.count == 2 && after.count == 3, "\(bot.lines)")
            #expect(after[2] == 200, "every attempt timed out")
            // One parked waiter: one more descriptor and one more thread at most, not 200.
            #expect(after[0] <= before[0] + 2, "descriptors \(before[0]) -> \(after[0])")
            #expect(after[1] <= before[1] + 2, "threads \(before[1]) -> \(after[1])")
            #expect(bot.waitForExit().status == 0)
        }

        @Test func aWaiterThatGetsTheLockOfADeletedLockfileTakesTheNewOneInstead() throws {
            let store = try StateStore<JSONValue>.create(directory: dir.path)
            let lockPath = dir.file("state.lock")
            let old = try RunningHelper(
                ["-c", "exec flock \(lockPath) sh -c 'echo locked; read line'"], executable: URL(fileURLWithPath: "/bin/sh"))
            #expect(old.waitForLine { $0 == "locked" })
            let writer = try RunningHelper(["update-once", dir.path, "20000"])
            // The writer waits on the old inode. An operator deletes the lockfile and makes a new
            // one, which another process (flock(1)) takes.
            // Waiting means blocked in flock on the old inode (a "->" line in /proc/locks), not
            // merely having it open: a writer still between its open and its flock would find the
            // new file and, rightly, lock that one instead.
            let oldInode = try FileManager.default.attributesOfItem(atPath: lockPath)[.systemFileNumber] as? UInt64 ?? 0
            try #require(LockHolderWait.until { LockHolderWait.process(writer.pid, waitsOnInode: oldInode) }, "the writer never waited on the old lockfile")
            try FileManager.default.removeItem(atPath: lockPath)
            #expect(FileManager.default.createFile(atPath: lockPath, contents: nil))
            let new = try RunningHelper(
                ["-c", "exec flock \(lockPath) sh -c 'echo locked; read line'"], executable: URL(fileURLWithPath: "/bin/sh"))
            #expect(new.waitForLine { $0 == "locked" })
            old.closeInput()  // releases the old inode's lock: the writer gets it, finds it stale
            _ = old.waitForExit()
            // The writer is then blocked on the new lockfile, as /proc/locks shows ("->" lines are waiters).
            let newInode = try FileManager.default.attributesOfItem(atPath: lockPath)[.systemFileNumber] as? UInt64 ?? 0
            #expect(LockHolderWait.until { LockHolderWait.process(writer.pid, waitsOnInode: newInode) }, "the writer never waited on the new lockfile")
            let versionWhileNewIsHeld = try store.read().version
            new.closeInput()
            _ = new.waitForExit()
            #expect(writer.waitForExit().status == 0)
            #expect(versionWhileNewIsHeld == 0, "the writer committed while another process held the new lockfile")
            #expect(try store.read().version == 1)
        }

        @Test func aLockfileReplacedWhileHeldAbortsTheCommit() async throws {
            let store = try await StateStore<JSONValue>.create(directory: dir.path)
            let lockPath = dir.file("state.lock")
            await #expect {
                try await store.update { state in
                    // Inside the mutation the lock is held: an operator re-creates the lockfile.
                    replaceWithEmptyFile(lockPath)
                    try state.set(true, forKey: "during")
                }
            } throws: { ($0 as? StateStoreError)?.code == .lockLost }
            await #expect(try store.read().version == 0)
            try await store.update { try $0.set(true, forKey: "after") }
            await #expect(try store.read().version == 1)
        }

        @Test func aLockfileReplacedOnceDuringACommitIsRetriedOnTheNewOne() async throws {
            let store = try await StateStore<JSONValue>.create(directory: dir.path)
            let lockPath = dir.file("state.lock")
            let runs = Atomic(0)
            let snapshot = try await store.update { state in
                if runs.add(1, ordering: .relaxed).newValue == 1 { replaceWithEmptyFile(lockPath) }
                try state.set(true, forKey: "done")
            }
            #expect(snapshot.version == 1)
            #expect(runs.load(ordering: .relaxed) == 2, "the mutation ran again on a fresh base")
            await #expect(store.verify().isHealthy)
        }

        @Test func aFIFOAtTheLockfileIsRefusedAtOnce() async throws {
            let store = try await StateStore<JSONValue>.create(directory: dir.path)
            let lockPath = dir.file("state.lock")
            try FileManager.default.removeItem(atPath: lockPath)
            #expect(mkfifo(lockPath, 0o600) == 0)
            let started = ContinuousClock.now
            await #expect {
                try await store.update { try $0.set(1, forKey: "x") }
            } throws: { error in
                guard let error = error as? StateStoreError else { return false }
                return error.code == .unverifiable && error.message.contains("not a regular file")
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }
}

/// Waits on a condition that another process changes (the writer reaching its lock wait).
enum LockHolderWait {
    static func until(timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    /// Whether /proc/locks lists the process as waiting (`->`) for a lock on the inode.
    static func process(_ pid: Int32, waitsOnInode inode: UInt64) -> Bool {
        let locks = ProcFile.text("/proc/locks") ?? ""
        return locks.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            guard fields.contains("->"), let arrow = fields.firstIndex(of: "->"), fields.count > arrow + 5 else { return false }
            return fields[arrow + 4] == "\(pid)" && fields[arrow + 5].split(separator: ":").last.flatMap { UInt64($0) } == inode
        }
    }
}
