import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Emulates ext4 handing a freed inode number to the next file at once, with change and
/// modification times that stay in one tick: what fooled the identity shortcuts. A file's number
/// is freed once no descriptor of this process has it open and it is no longer the state file
/// (every "process" of the test is a store instance in this one process).
final class InodeReuse: Sendable {
    private struct Books {
        var virtualOf: [UInt64: UInt64] = [:]
        var realOfDescriptor: [CInt: UInt64] = [:]
        var nextFresh: UInt64 = 1_000
    }

    private let books = Mutex(Books())
    private let statePath: String
    private let lockInode: UInt64

    init(directory: String) throws {
        statePath = directory + "/state.json"
        lockInode = try SystemCalls.live.fstatat(SystemCalls.currentDirectory, directory + "/state.lock").inode
    }

    var calls: SystemCalls {
        var calls = SystemCalls.live
        let base = SystemCalls.live
        calls.open = { (directory, path, intent) throws(Errno) in
            let fd = try base.open(directory, path, intent)
            if let status = try? base.fstat(fd) { self.books.withLock { $0.realOfDescriptor[fd.rawValue] = status.inode } }
            return fd
        }
        calls.close = { (fd) throws(Errno) in
            _ = self.books.withLock { $0.realOfDescriptor.removeValue(forKey: fd.rawValue) }
            try base.close(fd)
        }
        calls.fstat = { (fd) throws(Errno) in self.disguise(try base.fstat(fd)) }
        calls.fstatat = { (directory, path) throws(Errno) in self.disguise(try base.fstatat(directory, path)) }
        return calls
    }

    private func disguise(_ real: FileStatus) -> FileStatus {
        guard real.isRegularFile, real.inode != lockInode else { return real }
        var status = real
        status.inode = virtualInode(of: real.inode)
        status.changeTimeNanoseconds = 1
        status.modificationTimeNanoseconds = 1
        return status
    }

    private func virtualInode(of real: UInt64) -> UInt64 {
        let named = try? SystemCalls.live.fstatat(SystemCalls.currentDirectory, statePath).inode
        return books.withLock { books in
            if let known = books.virtualOf[real] { return known }
            let open = Set(books.realOfDescriptor.values)
            let freed = books.virtualOf.filter { !open.contains($0.key) && $0.key != named && $0.key != real }
            if let (oldReal, number) = freed.min(by: { $0.value < $1.value }) {
                books.virtualOf[oldReal] = nil
                books.virtualOf[real] = number
                return number
            }
            books.nextFresh += 1
            books.virtualOf[real] = books.nextFresh
            return books.nextFresh
        }
    }
}

/// Core-correctness item 2: identity shortcuts are trusted only for files the process holds open.
@Suite("Inode reuse")
struct InodeReuseTests {
    let dir = TemporaryDirectory()

    /// Two-digit values keep every version the same size.
    private func makeStore() throws -> InodeReuse {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 10])
        return try InodeReuse(directory: dir.path)
    }

    private func open(_ reuse: InodeReuse, label: String) throws -> StateStore<JSONValue> {
        var options = StateStoreOptions(label: label)
        options.systemCalls = reuse.calls
        return try StateStore<JSONValue>(directory: dir.path, options: options)
    }

    @Test func aWriterNeverBuildsOnItsCachedVersionAfterAnotherWriterCommittedTheSameSize() async throws {
        let reuse = try makeStore()
        let first = try open(reuse, label: "a"), second = try open(reuse, label: "b")
        let increment: @Sendable (inout JSONValue) throws -> Void = { try $0.set(.int(($0["n"]?.intValue ?? 0) + 1), forKey: "n") }
        try await first.update(increment)
        try await second.update(increment)
        try await second.update(increment)
        let last = try await first.update(increment)
        #expect(last.version == 4)
        #expect(last.state["n"] == 14, "an acknowledged update was lost: \(last.state)")
        await #expect(try first.read().state["n"] == 14)
    }

    @Test func aFollowerNeverSkipsASameSizeVersionInTheSameTick() async throws {
        let reuse = try makeStore()
        let reader = try open(reuse, label: "reader"), writer = try open(reuse, label: "writer")
        let collected = WatchTests.Collected()
        let follower = StateFollower<JSONValue>(
            handle: reader.handle, options: WatchOptions(consistencyCheckInterval: nil), since: nil, everyVersion: false
        ) { collected.append($0) }
        follower.start()
        defer { follower.stop() }
        await #expect(collected.waitFor { $0.versions == [0] })
        for n in 11...15 {
            try await writer.update { try $0.set(.int(Int64(n)), forKey: "n") }
            await #expect(collected.waitFor { $0.versions.last == UInt64(n - 10) }, "version \(n - 10) skipped: \(collected.versions)")
        }
    }

    @Test func threeProcessesIncrementingSameSizeStatesLoseNothing() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["padded": "100000"])
        let writers = try (0..<3).map { _ in try RunningHelper(["incr-padded", dir.path, "300"]) }
        for writer in writers { #expect(writer.waitForExit().status == 0) }
        let final = try StateStore<JSONValue>(directory: dir.path).read()
        #expect(final.state["padded"] == "100900")
        #expect(final.version == 900)
    }
}
