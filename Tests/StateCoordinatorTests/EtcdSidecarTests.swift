import Foundation
import Testing

@testable import StateCoordinator

/// state-sidecar --etcd serves the same paths for a store on etcd.
@Suite("state-sidecar on etcd", .serialized, .timeLimit(.minutes(2)))
struct EtcdSidecarTests {
    static let binary = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-sidecar")

    static func get(_ url: String) throws -> String {
        let curl = try RunningHelper(["-s", "--max-time", "5", url], executable: URL(fileURLWithPath: "/usr/bin/curl"))
        curl.closeInput()
        return curl.waitForExit().stdout
    }

    @Test func itServesTheStateAndFollowsEachCommit() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["halt": false])
        // On loopback without a token it refuses: every local user could read the store through it.
        let refused = try RunningHelper(["--etcd", cluster.endpoints, "--listen", "127.0.0.1:0"], executable: Self.binary)
        let (status, _, stderr) = refused.waitForExit()
        #expect(status != 0 && stderr.contains("readable by every local user"), "\(stderr)")
        let sidecar = try RunningHelper(["--etcd", cluster.endpoints, "--listen", "127.0.0.1:0", "--loopback-without-token"], executable: Self.binary)
        defer { sidecar.signal(SIGKILL) }
        var port: String?
        let deadline = ContinuousClock.now + .seconds(60)
        while port == nil, ContinuousClock.now < deadline {
            port = String(decoding: sidecar.collectedError(), as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix("state-sidecar: listening on 127.0.0.1:") }.map { String($0.split(separator: ":").last!) }
            if port == nil { usleep(50_000) }
        }
        let base = "http://127.0.0.1:\(try #require(port, "the sidecar did not start: \(String(decoding: sidecar.collectedError(), as: UTF8.self))"))"
        #expect(try Self.get(base + "/state").contains("\"halt\""))
        try store.update { try $0.set(true, forKey: "halt") }
        var state = ""
        let seen = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < seen {
            state = try Self.get(base + "/state")
            if state.contains("true") { break }
            usleep(50_000)
        }
        #expect(state.contains("true"), "\(state)")
        let statusDocument = try Self.get(base + "/status")
        #expect(statusDocument.contains("\"etcd\""), "\(statusDocument)")
        #expect(try Self.get(base + "/metrics").contains("statecoord_version{store=\"state\"} 1"))
    }
}
