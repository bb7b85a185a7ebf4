import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Issue 19, item 6: in a store directory a writers' group may write, a member (uid 4243 in group
/// 4242, through `setpriv`) swaps a writer's temp file for a FIFO between its write and its
/// rename. Before the fix the writer reopened the temp file by name for the fsync and renamed
/// whatever the name held: `set` exited 0 with the state file now the attacker's FIFO. The swap
/// is made at the writer's first fsync, through the system-call seam, so that the race is won
/// every time.
extension ProcessTests {
    @Suite("A temp file swapped under the writer")
    struct TempFileSwapTests {
        let dir = TemporaryDirectory()

        @Test func aFIFOSwappedForTheTempFileIsNeverRenamedIn() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false], settings: StoreSettings(fileMode: 0o660))
            #expect(chown(dir.path, 0, 4242) == 0 && chmod(dir.path, 0o770) == 0, "a directory the writers' group may write")
            let directory = dir.path
            let swapped = Atomic(false)
            var options = StateStoreOptions()
            options.systemCalls = SystemCalls.live.intercepting(before: { (call) throws(Errno) in
                guard call == .fsync, !swapped.exchange(true, ordering: .relaxed) else { return }
                let attack = Process()
                attack.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                attack.arguments = SecondUser.setpriv + [
                    "sh", "-c",
                    "cd \"$1\" && for f in .state.tmp-*; do rm -f \"$f\" && mkfifo -m 666 \"$f\"; done", "attack", directory,
                ]
                try? attack.run()
                attack.waitUntilExit()
            })
            let store = try StateStore<JSONValue>(directory: dir.path, options: options)
            let error = #expect(throws: StateStoreError.self) { try store.update { try $0.set(true, forKey: "halt") } }
            #expect(error?.message.contains("was replaced by another file") == true, "\(String(describing: error))")
            let attackerRan = swapped.load(ordering: .relaxed)
            #expect(attackerRan, "the attacker ran")
            var status = stat()
            #expect(lstat(dir.file("state.json"), &status) == 0 && status.st_mode & S_IFMT == S_IFREG, "the state file is still a regular file")
            let current = try ReadOnlyStateStore<JSONValue>(directory: dir.path).read()
            #expect(current.version == 0 && current.state == ["halt": false], "nothing was committed")
            #expect(try StateStore<JSONValue>(directory: dir.path).update { try $0.set(true, forKey: "halt") }.version == 1, "the next commit works")
        }
    }
}
