import Foundation
import Testing

@testable import StateCoordinator

/// A real, small tmpfs that fills up: the kernel's ENOSPC, not an injected one.
@Suite("Full file system", .serialized)
struct FullFileSystemTests {
    /// Why a tmpfs cannot be mounted here, or nil when it can (CI runs as root).
    static let unavailableReason: String? = {
        guard geteuid() == 0 else { return "mounting a tmpfs needs root" }
        let probe = TemporaryDirectory()
        guard mount("tmpfs", probe.path, "tmpfs", 0, "size=16k") == 0 else {
            return "mount(2) of a tmpfs failed: \(String(cString: strerror(errno)))"
        }
        umount(probe.path)
        return nil
    }()

    @Test(.enabled(if: unavailableReason == nil, "skipped: \(unavailableReason ?? "")"))
    func fullTmpfsLeavesOldStateAndNoTempFile() async throws {
        let dir = TemporaryDirectory()
        #expect(mount("tmpfs", dir.path, "tmpfs", 0, "size=64k,mode=0700") == 0)
        defer { umount2(dir.path, Int32(MNT_DETACH)) }
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["balance": 100])
        let before = try dir.contents("state.json")
        // Fill the file system, leaving less room than the next version needs.
        let filler = FileManager.default.createFile(atPath: dir.file("filler"), contents: nil)
        #expect(filler)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("filler")))
        while (try? handle.write(contentsOf: Data(repeating: 1, count: 4096))) != nil {}
        try? handle.close()

        let big = JSONValue.string(String(repeating: "x", count: 16 << 10))
        let error = await #expect(throws: StateStoreError.self) { try await store.update { try $0.set(big, forKey: "blob") } }
        #expect(error?.code == .noSpace)
        #expect(error?.errno == .noSpace)
        #expect(try dir.contents("state.json") == before)
        #expect(try dir.tempFiles().isEmpty)

        try FileManager.default.removeItem(atPath: dir.file("filler"))
        try await store.update { try $0.set(big, forKey: "blob") }
        await #expect(try store.read().state["blob"] == big)
    }
}
