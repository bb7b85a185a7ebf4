import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Every step of the commit protocol fails in turn, with each errno a full or failing disk gives.
@Suite("Injected failures")
struct FaultInjectionTests {
    /// A failure to inject, and the step the error must name.
    struct Fault: Sendable, CustomTestStringConvertible {
        var step: StateStoreError.Step
        var errno: Errno
        var install: @Sendable (inout SystemCalls, Errno) -> Void
        var testDescription: String { "\(step) fails with \(errno.symbolicName)" }
    }

    static let live = SystemCalls.live

    static let steps: [(StateStoreError.Step, @Sendable (inout SystemCalls, Errno) -> Void)] = [
        (.createTemp, { calls, errno in
            calls.open = { (dir, path, intent) throws(Errno) in
                if intent.options.contains(.create) { throw errno }
                return try live.open(dir, path, intent)
            }
        }),
        // The temp file is created with its final mode (umask permitting) and fchmod'ed only when
        // that differs: here it is created with none, so the fchmod is needed, and fails.
        (.setPermissions, { calls, errno in
            calls.open = { (dir, path, intent) throws(Errno) in
                try live.open(dir, path, intent.options.contains(.create) ? .createForWriting([]) : intent)
            }
            calls.fchmod = { (_, _) throws(Errno) in throw errno }
        }),
        (.write, { calls, errno in calls.write = { (_, _) throws(Errno) in throw errno } }),
        (.syncFile, { calls, errno in
            calls.fsync = { (fd) throws(Errno) in
                if try !live.fstat(fd).isDirectory { throw errno }
                try live.fsync(fd)
            }
        }),
        (.rename, { calls, errno in calls.rename = { (_, _, _) throws(Errno) in throw errno } }),
        (.keepHistory, { calls, errno in calls.link = { (_, _, _, _) throws(Errno) in throw errno } }),
    ]

    static let faults: [Fault] = steps.flatMap { step, install in
        [Errno.noSpace, .ioError].map { Fault(step: step, errno: $0, install: install) }
    }

    @Test(arguments: faults)
    func failedStepLeavesOldStateAndNoTempFile(_ fault: Fault) async throws {
        let dir = TemporaryDirectory()
        try await StateStore<JSONValue>.create(
            directory: dir.path, initial: ["balance": 100], settings: StoreSettings(keepHistory: 2))
        let before = try dir.contents("state.json")
        var options = StateStoreOptions()
        fault.install(&options.systemCalls, fault.errno)
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)

        let error = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(0, forKey: "balance") } }

        #expect(error?.step == fault.step)
        #expect(error?.errno == fault.errno)
        #expect(error?.path?.hasPrefix(dir.path) == true)
        #expect(error?.code == (fault.errno == .noSpace ? .noSpace : .ioFailure))
        #expect(error?.description.contains(fault.errno.symbolicName) == true)
        #expect(error?.description.contains("unchanged") == true)
        #expect(try dir.contents("state.json") == before)
        #expect(try dir.tempFiles().isEmpty)
        await #expect(try StateStore<JSONValue>(directory: dir.path).read().state == ["balance": 100])
    }

    @Test(arguments: [Errno.ioError, .noSpace, .invalidArgument])
    func failedDirectorySyncSaysTheVersionIsVisibleButNotDurable(_ errno: Errno) async throws {
        let dir = TemporaryDirectory()
        try await StateStore<JSONValue>.create(directory: dir.path)
        var options = StateStoreOptions()
        options.systemCalls.fsync = { (fd) throws(Errno) in
            if try Self.live.fstat(fd).isDirectory { throw errno }
            try Self.live.fsync(fd)
        }
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        let error = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(1, forKey: "x") } }
        #expect(error?.step == .syncDirectory)
        #expect(error?.currentVersion == 1)
        #expect(error?.description.contains("Version 1 is visible to readers") == true)
        if errno == .invalidArgument {
            #expect(error?.code == .directorySyncUnsupported)
            #expect(error?.hint?.contains("noDirectorySync") == true)
        }
        #expect(try dir.tempFiles().isEmpty)
        // The weaker level that avoids the directory fsync works on the same file system.
        options.durability = .noDirectorySync
        let weaker = try await StateStore<JSONValue>(directory: dir.path, options: options)
        #expect(try await weaker.update { try $0.set(2, forKey: "x") }.version == 2)
    }

    @Test func shortWritesAreCompleted() async throws {
        let dir = TemporaryDirectory()
        try await StateStore<JSONValue>.create(directory: dir.path)
        var options = StateStoreOptions()
        options.systemCalls.write = { (fd, buffer) throws(Errno) in
            try Self.live.write(fd, UnsafeRawBufferPointer(rebasing: buffer.prefix(7)))
        }
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        let text = String(repeating: "long state ", count: 500)
        try await store.update { try $0.set(.string(text), forKey: "text") }
        await #expect(try store.read().state["text"] == .string(text))
    }

    /// FUSE file systems may return fewer bytes than asked anywhere in a file; only a short read
    /// that ends exactly at the size fstat reported is taken as the end.
    @Test(arguments: [7, 4096, 70_000])
    func shortReadsAreCompleted(chunk: Int) async throws {
        let dir = TemporaryDirectory()
        let text = String(repeating: "long state ", count: 9_000)  // about 100 KiB: past the header window
        try await StateStore<JSONValue>.create(directory: dir.path, initial: ["text": .string(text)])
        let reads = Mutex(0)
        var options = StateStoreOptions()
        options.systemCalls.read = { (fd, buffer) throws(Errno) in
            reads.withLock { $0 += 1 }
            return try Self.live.read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(chunk)))
        }
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        await #expect(try store.read().state["text"] == .string(text))
        let size = try await store.read().fileSize
        reads.withLock { $0 = 0 }
        _ = try await store.read()
        // The header window (64 KiB + 2 bytes) first, then the rest, chunk by chunk; no read past
        // the end once the last one ends where fstat said.
        let window = StateFileHeader.maximumLength + 2
        func chunks(_ bytes: Int) -> Int { (bytes + chunk - 1) / chunk }
        #expect(reads.withLock { $0 } == chunks(window) + chunks(size - window))
    }

    @Test func durabilityLevelsIssueTheirFsyncs() async throws {
        for (durability, expected) in [(Durability.full, 2), (.noDirectorySync, 1), (.none, 0)] {
            let dir = TemporaryDirectory()
            try await StateStore<JSONValue>.create(directory: dir.path)
            let count = Counter()
            var options = StateStoreOptions(durability: durability)
            options.systemCalls = SystemCalls.live.intercepting(before: { (name) throws(Errno) in
                if name == .fsync { count.increment() }
            })
            let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
            try await store.update { try $0.set(1, forKey: "x") }
            #expect(count.value == expected, "\(durability)")
        }
    }

    @Test func errnoMapsToCodes() {
        #expect(StateStoreError.Code(errno: .noSpace, step: .write) == .noSpace)
        #expect(StateStoreError.Code(errno: .diskQuotaExceeded, step: .write) == .noSpace)
        #expect(StateStoreError.Code(errno: .permissionDenied, step: .createTemp) == .permissionDenied)
        #expect(StateStoreError.Code(errno: .tooManySymbolicLinkLevels, step: .readState) == .symbolicLink)
        #expect(StateStoreError.Code(errno: .readOnlyFileSystem, step: .createTemp) == .readOnlyFileSystem)
        #expect(StateStoreError.Code(errno: .invalidArgument, step: .syncDirectory) == .directorySyncUnsupported)
        #expect(StateStoreError.Code(errno: .invalidArgument, step: .write) == .ioFailure)
        #expect(StateStoreError.Code(errno: .ioError, step: .syncFile) == .ioFailure)
    }
}

/// A thread-safe counter for calls observed through the seam.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
