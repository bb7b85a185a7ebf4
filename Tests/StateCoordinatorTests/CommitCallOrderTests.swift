import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The durability claim is a call order, so it is asserted as one: the system calls of a commit,
/// recorded through the seam, with each descriptor named by what it was opened on.
@Suite("Commit call order")
struct CommitCallOrderTests {
    let dir = TemporaryDirectory()

    /// Records write, fsync, close, link and rename, naming descriptors and files by role:
    /// DIR (the store directory), HISTORY (its history directory), TEMP (a commit's temp file),
    /// or the file name.
    final class Recorder: Sendable {
        let calls = Mutex<[String]>([])
        let names = Mutex<[CInt: String]>([:])
        let recording = Atomic(false)

        func role(_ path: String, directory: String) -> String {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            if path == directory || path.hasSuffix(directory) { return "DIR" }
            if name.hasPrefix(".state.tmp-") { return "TEMP" }
            if name == "state.history" { return "HISTORY" }
            return name
        }

        func note(_ call: String) {
            if recording.load(ordering: .relaxed) { calls.withLock { $0.append(call) } }
        }

        func systemCalls(directory: String) -> SystemCalls {
            var calls = SystemCalls.live
            calls.open = { (d, p, intent) throws(Errno) in
                let fd = try SystemCalls.live.open(d, p, intent)
                self.names.withLock { names in
                    // A file reopened through its descriptor (/proc/self/fd/N) has the role of that descriptor.
                    let reopened = p.hasPrefix("/proc/self/fd/") ? CInt(p.dropFirst("/proc/self/fd/".count)).flatMap { names[$0] } : nil
                    names[fd.rawValue] = reopened ?? self.role(p, directory: directory)
                }
                return fd
            }
            calls.write = { (fd, b) throws(Errno) in
                self.note("write \(self.names.withLock { $0[fd.rawValue] ?? "?" })")
                return try SystemCalls.live.write(fd, b)
            }
            calls.fsync = { (fd) throws(Errno) in
                self.note("fsync \(self.names.withLock { $0[fd.rawValue] ?? "?" })")
                try SystemCalls.live.fsync(fd)
            }
            calls.close = { (fd) throws(Errno) in
                let name = self.names.withLock { $0.removeValue(forKey: fd.rawValue) ?? "?" }
                if name == "TEMP" { self.note("close TEMP") }
                try SystemCalls.live.close(fd)
            }
            calls.link = { (a, from, b, to) throws(Errno) in
                self.note("link \(self.role(from, directory: directory)) HISTORY/\(to)")
                try SystemCalls.live.link(a, from, b, to)
            }
            calls.rename = { (d, from, to) throws(Errno) in
                self.note("rename \(self.role(from, directory: directory)) \(self.role(to, directory: directory))")
                try SystemCalls.live.rename(d, from, to)
            }
            return calls
        }
    }

    @Test func aFullyDurableCommitWritesSyncsLinksRenamesThenSyncsTheDirectory() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 2))
        let recorder = Recorder()
        var options = StateStoreOptions()
        options.systemCalls = recorder.systemCalls(directory: dir.path)
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        recorder.recording.store(true, ordering: .relaxed)
        try await store.update { try $0.set(1, forKey: "x") }
        recorder.recording.store(false, ordering: .relaxed)
        #expect(
            recorder.calls.withLock { $0 } == [
                "write TEMP",  // the whole new version, into a temp file beside the state file
                "close TEMP",  // closed once written (IN_CLOSE_WRITE: watchers read it ahead)...
                "fsync TEMP",  // ...and synced through a read-only descriptor: durable before anything names it
                "close TEMP",
                "link state.json HISTORY/00000000000000000000.json",  // the outgoing version is kept
                "fsync HISTORY",  // and its history entry is durable
                "rename TEMP state.json",  // the new version becomes current, atomically
                "fsync DIR",  // and the rename is durable
            ])
    }

    @Test func withoutDirectorySyncOnlyTheFileIsSynced() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path)
        let recorder = Recorder()
        var options = StateStoreOptions(durability: .noDirectorySync)
        options.systemCalls = recorder.systemCalls(directory: dir.path)
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        recorder.recording.store(true, ordering: .relaxed)
        try await store.update { try $0.set(1, forKey: "x") }
        recorder.recording.store(false, ordering: .relaxed)
        #expect(recorder.calls.withLock { $0 } == ["write TEMP", "close TEMP", "fsync TEMP", "close TEMP", "rename TEMP state.json"])
    }

    @Test func anInterruptedWriteOrFsyncInjectedThroughTheSeamIsRetried() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path)
        let interrupts = Mutex<[SystemCallName: Int]>([.write: 1, .fsync: 1, .open: 1])
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            let inject = interrupts.withLock { left -> Bool in
                guard let count = left[call], count > 0 else { return false }
                left[call] = count - 1
                return true
            }
            if inject { throw .interrupted }
        })
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        let snapshot = try await store.update { try $0.set(1, forKey: "x") }
        #expect(snapshot.version == 1)
        #expect(interrupts.withLock { $0.values.allSatisfy { $0 == 0 } }, "every injected EINTR was met")
    }

    @Test func anInterruptedRenameIsReportedNotRetried() async throws {
        try await StateStore<JSONValue>.create(directory: dir.path)
        var options = StateStoreOptions()
        options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
            if call == .rename { throw .interrupted }
        })
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        await #expect {
            try await store.update { try $0.set(1, forKey: "x") }
        } throws: { error in
            (error as? StateStoreError)?.errno == .interrupted
        }
        #expect(try await ReadOnlyStateStore<JSONValue>(directory: dir.path).read().version == 0)
    }
}
