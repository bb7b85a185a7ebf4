import Foundation
import Testing

extension ProcessTests {
/// `state-demo`, as `Tools/setup/run demo` plays it: two Python bots and a Swift bot, the
/// sidecar, the operator's commands through statectl; its own checks must pass, and it must leave
/// nothing behind.
@Suite("Demo: the trading scene")
struct DemoSceneTests {
    static let demo = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-demo")

    @Test func theScenePlaysToAConfirmedHaltWithNothingLostAndCleansUp() throws {
        let run = try RunningHelper([], executable: Self.demo)
        let result = run.waitForExit(timeout: .seconds(120))
        let transcript = result.stdout + result.stderr
        #expect(!result.timedOut && result.status == 0, "\(transcript)")
        for line in [
            "refused by the store's schema: nothing committed", "SIGKILL py-bot-2", "py-bot-2 restarted",
            "confirmed by all 3 bots in", "trades after the halt: 0", "lost updates: 0", "statectl verify: ok",
        ] {
            #expect(transcript.contains(line), "missing \"\(line)\" in:\n\(transcript)")
        }
        let registered = try #require(transcript.firstMatch(of: /bots registered as readers: (.+)/))
        #expect(registered.1.contains("py-bot-1@") && registered.1.contains("py-bot-2@") && registered.1.contains("swift-bot@"))
        // Each bot traded, and the sidecar answered on the URL printed.
        for bot in ["py-bot-1", "py-bot-2", "swift-bot"] {
            let trades = try #require(transcript.firstMatch(of: Regex("\\s\(bot) +(Python|Swift) +(\\d+) trades")))
            #expect(Int(trades.output[2].substring ?? "") ?? 0 > 10, "\(bot) hardly traded: \(transcript)")
        }
        #expect(transcript.contains("sidecar  http://127.0.0.1:"))
        // The temporary directory is gone, the sidecar with it.
        let store = try #require(transcript.firstMatch(of: /store +(\S+)\/store\s/))
        #expect(!FileManager.default.fileExists(atPath: String(store.1)), "left behind: \(store.1)")
    }

    @Test func keepLeavesTheStoreAndTheSidecarUpForALook() throws {
        let run = try RunningHelper(["--keep"], executable: Self.demo)
        let result = run.waitForExit(timeout: .seconds(120))
        let transcript = result.stdout + result.stderr
        #expect(!result.timedOut && result.status == 0, "\(transcript)")
        let store = try #require(transcript.firstMatch(of: /store +(\S+)\/store\s/))
        let sidecar = try #require(transcript.firstMatch(of: /the sidecar \(pid (\d+)\) at (http:\S+);/))
        defer {
            if let pid = Int32(sidecar.1) { kill(pid, SIGTERM) }
            try? FileManager.default.removeItem(atPath: String(store.1))
        }
        #expect(FileManager.default.fileExists(atPath: "\(store.1)/store/state.json"))
        // The sidecar outlived the demo and answers (curl: Foundation's URL loading blocks here).
        let status = try RunningHelper(["curl", "-sS", "-m", "10", "\(sidecar.2)status"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            .waitForExit(timeout: .seconds(20))
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(status.status == 0 && json?["version"] != nil, "\(status)")
    }

    @Test func theCounterDemoStays() throws {
        let run = try RunningHelper(["counter", "--writers", "3", "--commits", "30"], executable: Self.demo)
        let result = run.waitForExit(timeout: .seconds(120))
        #expect(result.status == 0 && result.stdout.contains("OK: 3 writers × 30 commits = 90"), "\(result.stdout)\(result.stderr)")
    }
}
}
