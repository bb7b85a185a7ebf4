import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Core-correctness item 6: after a failed rename or directory fsync the error says whether the
/// new version was committed, and statectl gives "committed, durability unknown" its own exit code.
@Suite("Rename outcome")
struct RenameOutcomeTests {
    let dir = TemporaryDirectory()

    private func store(_ change: (inout SystemCalls) -> Void) throws -> StateStore<JSONValue> {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["n": 1])
        var options = StateStoreOptions()
        change(&options.systemCalls)
        return try StateStore<JSONValue>(directory: dir.path, options: options)
    }

    private func failedIncrement(_ store: StateStore<JSONValue>) async -> StateStoreError? {
        do {
            try await store.update { try $0.set(.int(($0["n"]?.intValue ?? 0) + 1), forKey: "n") }
            return nil
        } catch {
            return error as? StateStoreError
        }
    }

    /// A store whose rename takes effect, then reports `errno` (as a crashing file system did).
    private func storeWhoseRenameFailsAfterTakingEffect(with errno: Errno) throws -> StateStore<JSONValue> {
        try store { calls in
            calls.rename = { (d, from, to) throws(Errno) in
                try SystemCalls.live.rename(d, from, to)
                throw errno
            }
        }
    }

    @Test func aRenameThatTookEffectBeforeFailingIsReportedCommitted() async throws {
        let store = try storeWhoseRenameFailsAfterTakingEffect(with: .ioError)
        let error = try #require(await failedIncrement(store))
        #expect(error.outcome == .committedDurabilityUnknown)
        #expect(error.currentVersion == 1)
        #expect(!error.description.contains("The committed state is unchanged"), "\(error)")
        #expect(error.description.contains("committed, durability unknown"))
        await #expect(try store.read().state["n"] == 2)
        #expect(try dir.tempFiles().isEmpty)
    }

    /// EINTR reaching the store after the rename took effect is judged like any error. (That the
    /// live system calls do not retry an interrupted rename is checked through a real statectl,
    /// in ``statectlExitsEightWhenTheFailedRenameTookEffect()``.)
    @Test func anInterruptedRenameThatTookEffectIsReportedCommitted() async throws {
        let store = try storeWhoseRenameFailsAfterTakingEffect(with: .interrupted)
        let error = try #require(await failedIncrement(store))
        #expect(error.outcome == .committedDurabilityUnknown, "a retry would have failed with ENOENT: \(error)")
    }

    @Test func aRenameThatDidNotHappenIsReportedNotCommitted() async throws {
        let store = try store { $0.rename = { (_, _, _) throws(Errno) in throw .ioError } }
        let error = try #require(await failedIncrement(store))
        #expect(error.outcome == .notCommitted)
        #expect(error.description.contains("The committed state is unchanged"))
        await #expect(try store.read().version == 0)
        #expect(try dir.tempFiles().isEmpty)
        #expect(await failedIncrement(try StateStore<JSONValue>(directory: dir.path)) == nil, "retrying is safe")
    }

    @Test func aRenameWhoseEffectCannotBeSeenIsReportedUnknown() async throws {
        let renamed = Atomic(false)
        let store = try store { calls in
            calls.rename = { (_, _, _) throws(Errno) in
                renamed.store(true, ordering: .relaxed)
                throw .ioError
            }
            calls.fstatat = { (d, path) throws(Errno) in
                if renamed.load(ordering: .relaxed), path == "state.json" { throw .ioError }
                return try SystemCalls.live.fstatat(d, path)
            }
        }
        let error = try #require(await failedIncrement(store))
        #expect(error.outcome == .unknown)
        #expect(error.hint?.contains("before retrying") == true)
    }

    @Test func aFailedDirectoryFsyncIsCommittedWithUnknownDurability() async throws {
        let store = try store { calls in
            calls.fsync = { (fd) throws(Errno) in
                if let status = try? SystemCalls.live.fstat(fd), status.isDirectory { throw .ioError }
                try SystemCalls.live.fsync(fd)
            }
        }
        let error = try #require(await failedIncrement(store))
        #expect(error.outcome == .committedDurabilityUnknown)
        await #expect(try store.read().version == 1)
    }

    /// A real statectl whose `renameat` (through LD_PRELOAD) renames and then reports EIO.
    @Test func statectlExitsEightWhenTheFailedRenameTookEffect() throws {
        let cli = CLI(directory: dir.path)
        #expect(try cli("init").status == 0)
        #expect(try cli("set", "/n", "1").status == 0)
        let library = try Self.renameThenFailLibrary(in: dir)
        let result = try cli("incr", "/n", environment: ["LD_PRELOAD": library])
        #expect(result.status == 8, "\(result)")
        #expect(result.stderr.contains("committed, durability unknown"), "\(result)")
        #expect(result.oneDiagnosticLine)
        #expect(try cli("get", "/n").stdout == "2\n", "the version was committed, once")
        let refused = try CLI(directory: dir.path).shell("STATECTL_FAIL_RENAME=never statectl incr /n", environment: ["LD_PRELOAD": library])
        #expect(refused.status == 0)
        // EINTR after the rename took effect: the live system calls must not retry it (the retry
        // would fail with ENOENT and report "not committed").
        let interrupted = try cli("incr", "/n", environment: ["LD_PRELOAD": library, "STATECTL_FAIL_RENAME": "eintr"])
        #expect(interrupted.status == 8, "\(interrupted)")
        #expect(try cli("get", "/n").stdout == "4\n", "committed once")
    }

    /// Builds a shared library whose `renameat` renames, then fails with EIO (unless
    /// STATECTL_FAIL_RENAME=never).
    private static func renameThenFailLibrary(in dir: TemporaryDirectory) throws -> String {
        let source = dir.path + "/../rename-then-fail-\(getpid()).c"
        let library = dir.path + "/../rename-then-fail-\(getpid()).so"
        if FileManager.default.fileExists(atPath: library) { try? FileManager.default.removeItem(atPath: library) }
        try """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <stdlib.h>
        #include <string.h>
        int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
            int (*real)(int, const char *, int, const char *) = dlsym(RTLD_NEXT, "renameat");
            int result = real(olddirfd, oldpath, newdirfd, newpath);
            const char *mode = getenv("STATECTL_FAIL_RENAME");
            if (result == 0 && !(mode && strcmp(mode, "never") == 0)) {
                errno = mode && strcmp(mode, "eintr") == 0 ? EINTR : EIO;
                return -1;
            }
            return result;
        }
        """.write(toFile: source, atomically: true, encoding: .utf8)
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        compile.arguments = ["-shared", "-fPIC", "-o", library, source, "-ldl"]
        try compile.run()
        compile.waitUntilExit()
        try #require(compile.terminationStatus == 0)
        return library
    }
}
