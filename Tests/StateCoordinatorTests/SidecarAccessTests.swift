import Foundation
import Testing

@testable import StateCoordinator

/// Issue 19, items 9 and 10: a sidecar run as root serves a store whose state file its users
/// may not all read. The attacks run as uid 4243 (``SecondUser``).
extension ProcessTests.SidecarTests {
    /// Before the fix a loopback sidecar without a token served `/state` of a `0640` store to
    /// every local user. Now it refuses to start that way unless told to accept it; on a Unix
    /// socket the stores' own permissions decide who connects.
    @Test func aRootSidecarServesOnlyWhoCouldReadTheStore() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        #expect(chown(dir.file("state.json"), 0, gid_t(SecondUser.gid)!) == 0 && chmod(dir.path, 0o755) == 0)
        let refused = try RunningHelper(["--dir", dir.path, "--listen", "127.0.0.1:0"], executable: Self.binary).waitForExit()
        #expect(refused.status != 0 && refused.stderr.contains("is mode 640") && refused.stderr.contains("--token-file"), "\(refused)")

        let socketDirectory = TemporaryDirectory()
        #expect(chmod(socketDirectory.path, 0o755) == 0)
        let socket = socketDirectory.file("bot.sock")
        let sidecar = try RunningHelper(["--dir", dir.path, "--listen", "unix:" + socket], executable: Self.binary)
        defer { sidecar.signal(SIGTERM) }
        #expect(LockHolderWait.until(timeout: .seconds(60)) { String(decoding: sidecar.collectedError(), as: UTF8.self).contains("listening on unix:") })
        var status = stat()
        #expect(stat(socket, &status) == 0 && status.st_mode & 0o777 == 0o660 && status.st_gid == gid_t(SecondUser.gid)!, "the store's access: owner and group")
        func curl(as user: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let helper = try RunningHelper(
                user + ["curl", "-sS", "--max-time", "10", "--unix-socket", socket, "http://localhost/state"],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            helper.closeInput()
            return helper.waitForExit()
        }
        let member = try curl(as: SecondUser.setpriv)
        #expect(member.status == 0 && member.stdout.contains("\"halt\""), "a member of the store's group reads: \(member)")
        let stranger = try curl(as: ["setpriv", "--reuid=4245", "--regid=4245", "--clear-groups"])
        #expect(stranger.status != 0 && !stranger.stdout.contains("halt"), "a user outside it cannot connect: \(stranger)")
        sidecar.signal(SIGTERM)
        _ = sidecar.waitForExit()
        #expect(access(socket, F_OK) != 0, "the socket is removed on exit")
    }

    /// Item 10: before the fix one local user could hold every `/events` place (`--max-streams`).
    /// Now each user (told by the kernel, whatever 127.x.x.x it connects from) holds at most
    /// `--max-streams-per-client`.
    @Test func oneUserCannotHoldEveryEventStream() throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let sidecar = try start(["--max-streams", "4", "--max-streams-per-client", "2"])
        defer { sidecar.process.signal(SIGKILL) }
        let port = sidecar.base.split(separator: ":").last.map(String.init) ?? ""
        var held: [RunningHelper] = []
        defer { held.forEach { $0.signal(SIGKILL) } }
        for source in ["127.0.0.1", "127.0.0.2"] {
            let stream = try RunningHelper(
                SecondUser.setpriv + ["curl", "-sN", "--interface", source, "http://127.0.0.1:\(port)/events"],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(stream.waitForLine { $0.hasPrefix("event: version") }, "the attacker's stream from \(source) is open")
            held.append(stream)
        }
        let third = try RunningHelper(
            SecondUser.setpriv + ["curl", "-s", "--interface", "127.0.0.3", "-o", "/dev/null", "-w", "%{http_code}\n", "http://127.0.0.1:\(port)/events"],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        third.closeInput()
        let refused = third.waitForExit()
        #expect(refused.stdout == "429\n", "a third from another loopback address is the same user's: \(refused)")
        let other = try RunningHelper(
            ["setpriv", "--reuid=4245", "--regid=4245", "--clear-groups", "curl", "-sN", "http://127.0.0.1:\(port)/events"],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { other.signal(SIGKILL) }
        #expect(other.waitForLine { $0.hasPrefix("event: version") }, "another user still gets a stream")
    }
}
