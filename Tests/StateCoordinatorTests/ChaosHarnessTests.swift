import Foundation
import Testing

extension ProcessTests {
/// The chaos harness, run for 20 seconds as CI requires: random SIGKILLs and SIGSTOPs of writers
/// (two Swift, one through the Python package) while readers check every version; then 15
/// seconds of it on a three-member etcd cluster.
@Suite("Chaos harness")
struct ChaosHarnessTests {
    @Test func twentySecondsOfKillsAndStallsLoseNothing() throws {
        let dir = TemporaryDirectory()
        let harness = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-chaos")
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/python").path
        let run = try RunningHelper(
            ["--duration", "20s", "--dir", dir.path, "--writers", "2", "--python-writers", "1", "--python-package", package],
            executable: harness)
        let result = run.waitForExit()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let summary = try #require(result.stdout.split(separator: "\n").last)
        let match = try #require(
            summary.wholeMatch(
                of: /chaos: (\d+) kills, (\d+) commits, 0 lost, 0 torn, 0 regressions, 0 stale readers \(Python writers: (\d+) kills, (\d+) acknowledged commits\)/))
        #expect(Int(match.1)! > 20, "too few kills to mean anything: \(summary)")
        #expect(Int(match.2)! > 100, "too few commits to mean anything: \(summary)")
        #expect(Int(match.3)! > 2 && Int(match.4)! > 10, "the Python writer was hardly killed or hardly committed: \(summary)")
    }

    /// Combining writers (``StateStore/apply(_:expecting:)``, and the Python package's
    /// `Store.apply`: published while another holds the lock, committed by that holder) killed at
    /// random instants, holders and waiters alike, beside a plain Swift writer and a plain Python
    /// writer (whose lock wait is a parked blocking `flock`, so it is not starved by four combining
    /// writers as its old polling wait was): each combining writer's every answer must hold its
    /// count exactly, and the final state each one's acknowledged count (or one more: the update it
    /// had published when killed).
    @Test func fifteenSecondsOfCombiningWritersKilledLoseNothingAndApplyNothingTwice() throws {
        let dir = TemporaryDirectory()
        let harness = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-chaos")
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/python").path
        let run = try RunningHelper(
            [
                "--duration", "15s", "--dir", dir.path, "--writers", "1", "--combining-writers", "3", "--python-combining-writers", "1", "--python-writers", "1",
                "--python-package", package, "--readers", "2",
            ], executable: harness)
        let result = run.waitForExit()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let summary = try #require(result.stdout.split(separator: "\n").last)
        let match = try #require(
            summary.wholeMatch(
                of: /chaos: (\d+) kills, (\d+) commits, 0 lost, 0 torn, 0 regressions, 0 stale readers \(Python writers: (\d+) kills, (\d+) acknowledged commits, (\d+) acknowledged combined updates\) \(combining writers: (\d+) acknowledged updates, (\d+) outcomes unknown, each settled from the state\)/))
        #expect(Int(match.1)! > 20, "too few kills to mean anything: \(summary)")
        #expect(Int(match.4)! > 10, "the Python writer hardly committed beside the combining writers: \(summary)")
        #expect(Int(match.5)! > 10, "the Python combining writer hardly committed: \(summary)")
        #expect(Int(match.6)! > 300, "the combining writers hardly committed: \(summary)")
    }

    /// The same on etcd: writers SIGKILLed and SIGSTOPped inside their transactions while one of
    /// three members is killed and restarted; every acknowledged increment must be there.
    @Test func fifteenSecondsOnEtcdWithAMemberKilledLoseNothing() throws {
        let dir = TemporaryDirectory()
        let harness = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-chaos")
        let run = try RunningHelper(["--etcd", "--duration", "15s", "--dir", dir.path, "--writers", "3", "--readers", "2"], executable: harness)
        let result = run.waitForExit()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let summary = try #require(result.stdout.split(separator: "\n").last)
        let match = try #require(
            summary.wholeMatch(
                of: /chaos: (\d+) kills, (\d+) commits, 0 lost, 0 torn, 0 regressions, 0 stale readers \(etcd: (\d+) member kills, (\d+) commits failed while a member was down\)/))
        #expect(Int(match.1)! > 20, "too few kills to mean anything: \(summary)")
        #expect(Int(match.2)! > 100, "too few commits to mean anything: \(summary)")
        #expect(Int(match.3)! >= 1, "no member was killed: \(summary)")
    }
}
}
