import Foundation
import Testing

@testable import StateCoordinator

/// The README's guarded update, tried as the issue tried the racy one: three bot processes trade
/// as fast as they can while an operator halts with statectl. Not one trade may commit after the halt.
extension ProcessTests {
    @Suite("Halt safety")
    struct HaltSafetyTests {
        let dir = TemporaryDirectory()

        @Test(arguments: 1...3)
        func threeGuardedBotsCommitNothingAfterTheHalt(round: Int) throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false, "trades": 0])
            let store = try ReadOnlyStateStore<JSONValue>(directory: dir.path)
            let bots = try (0..<3).map { _ in try RunningHelper(["guarded-bot", dir.path]) }
            // Halt once the bots are trading hard (a count, not a sleep).
            #expect(LockHolderWait.until(timeout: .seconds(30)) { ((try? store.read().version) ?? 0) >= 60 })
            let halt = try CLI(directory: dir.path)("set", "/halt", "true")
            #expect(halt.status == 0, "\(halt)")
            let haltVersion = try #require(UInt64(halt.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let haltedTrades = try store.read().state["trades"]?.intValue
            let results = bots.map { $0.waitForExit() }
            #expect(results.allSatisfy { $0.status == 0 && $0.stdout.hasPrefix("halted after ") }, "\(results.map(\.stderr))")
            let final = try store.read()
            #expect(final.version == haltVersion, "no version after the halt's")
            #expect(final.state["trades"]?.intValue == haltedTrades)
            let perBot = results.compactMap { Int64($0.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") }
            #expect(perBot.reduce(0, +) == final.state["trades"]?.intValue, "every trade a bot counted is in the state, and no other")
        }
    }
}
