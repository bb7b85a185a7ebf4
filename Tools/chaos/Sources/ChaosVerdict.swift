import Foundation
import StateCoordinator

/// The checks at the end of a chaos run and its one-line summary.
struct ChaosVerdict {
    var problems: [String] = []
    var summary = ""

    init(
        store: StateStore<ChaosState>, final: StateSnapshot<ChaosState>, acknowledged: [(line: Substring, python: Bool)],
        readers: [String], kills: (kills: Int, pythonKills: Int), pythonWriters: Int, writerFailures: [String],
        memberKills: Int? = nil
    ) throws {
        problems += writerFailures
        let current = try store.read()  // verifies the checksum
        if current.version != final.version { problems.append("the state moved after the last commit: \(current.version)") }
        if current.state.counter != Int64(current.version) {
            problems.append("counter \(current.state.counter) ≠ version \(current.version): an increment was lost or doubled")
        }
        var lost = 0, byPython = 0, failedCommits = 0
        if let recent = current.state.recent, Set(recent).count != recent.count {
            lost += 1
            problems.append("an update was applied twice: its token is in the final state twice (\(recent.suffix(8)))")
        }
        var versions = Set<UInt64>()
        for (line, python) in acknowledged {
            let fields = line.split(separator: " ")
            if fields.first == "error" { failedCommits += 1 }
            guard fields.count == 2, let version = UInt64(fields[0]), let counter = Int64(fields[1]) else { continue }
            if !versions.insert(version).inserted { lost += 1 }  // two writers acknowledged one version
            if counter != Int64(version) || counter > current.state.counter { lost += 1 }
            if python { byPython += 1 }
        }
        if pythonWriters > 0 && byPython == 0 { problems.append("the Python writers acknowledged no commit: they did not take part") }
        if lost > 0 { problems.append("\(lost) acknowledged increments missing or duplicated") }
        var torn = 0, regressions = 0, stale = 0, doubled = 0
        for report in readers {
            let fields = report.split(separator: " ")
            func value(_ key: String) -> Int {
                guard let index = fields.firstIndex(of: Substring(key)), index + 1 < fields.count else { return 0 }
                return Int(fields[index + 1]) ?? 0
            }
            torn += value("torn") + value("mismatches")
            doubled += value("doubled")
            regressions += value("regressions")
            if UInt64(value("last")) != current.version {
                stale += 1
                problems.append("a reader stopped at version \(value("last")) of \(current.version): \(report)")
            }
        }
        if torn > 0 { problems.append("readers saw \(torn) unverifiable or inconsistent states") }
        if regressions > 0 { problems.append("readers saw versions go backwards \(regressions) times") }
        if doubled > 0 {
            problems.append("readers saw an update applied twice (its token twice in the state) in \(doubled) snapshots")
            lost += 1  // at least one update applied twice: counted with the increments missing or duplicated
        }
        if store.etcd == nil {
            let temps = try FileManager.default.contentsOfDirectory(atPath: store.directory).filter { $0.hasPrefix(".state.tmp-") }
            if !temps.isEmpty { problems.append("temp files remain after the final commit: \(temps)") }
        }
        summary = "chaos: \(kills.kills) kills, \(current.version) commits, \(lost) lost, \(torn) torn, \(regressions) regressions, \(stale) stale readers"
        if let memberKills {
            summary += " (etcd: \(memberKills) member kills, \(failedCommits) commits failed while a member was down)"
        }
        if pythonWriters > 0 {
            summary += " (Python writers: \(kills.pythonKills) kills, \(byPython) acknowledged commits)"
        }
    }
}
