import Foundation
import StateCoordinator

/// The checks at the end of a chaos run and its one-line summary.
struct ChaosVerdict {
    var problems: [String] = []
    var summary = ""

    init(
        store: StateStore<ChaosState>, final: StateSnapshot<ChaosState>, acknowledged: [(line: Substring, python: Bool)],
        readers: [String], kills: (kills: Int, pythonKills: Int), pythonWriters: Int, pythonCombiningWriters: Int = 0,
        writerFailures: [String], memberKills: Int? = nil, combining: [(lines: [Substring], python: Bool)]? = nil
    ) throws {
        problems += writerFailures
        let current = try store.read()  // verifies the checksum
        if current.version != final.version { problems.append("the state moved after the last commit: \(current.version)") }
        if combining == nil, current.state.counter != Int64(current.version) {
            problems.append("counter \(current.state.counter) ≠ version \(current.version): an increment was lost or doubled")
        }
        if combining != nil, current.state.counter > Int64(current.version) {
            problems.append("counter \(current.state.counter) > version \(current.version): an increment was doubled")
        }
        var lost = 0, byPython = 0, failedCommits = 0
        if let recent = current.state.recent, Set(recent).count != recent.count {
            lost += 1
            problems.append("an update was applied twice: its token is in the final state twice (\(recent.suffix(8)))")
        }
        var versions = Set<UInt64>()
        var counters = Set<Int64>()
        for (line, python) in acknowledged {
            let fields = line.split(separator: " ")
            if fields.first == "error" { failedCommits += 1 }
            guard fields.count == 2, let version = UInt64(fields[0]), let counter = Int64(fields[1]) else { continue }
            if !versions.insert(version).inserted { lost += 1 }  // two writers acknowledged one version
            // With combining writers a version holds their increments too: the plain counter
            // then rises by one per plain commit, so no two commits may report the same value.
            if combining != nil, !counters.insert(counter).inserted { lost += 1 }
            if (combining == nil && counter != Int64(version)) || counter > Int64(version) || counter > current.state.counter { lost += 1 }
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
        var combinedSummary = ""
        var byPythonCombining = 0
        if let combining {
            let (found, acknowledged, unknown) = Self.check(combining.map(\.lines), final: current.state.c ?? [:])
            byPythonCombining = Self.check(combining.filter(\.python).map(\.lines), final: current.state.c ?? [:]).acknowledged
            problems += found
            lost += found.count
            if acknowledged == 0 { problems.append("the combining writers acknowledged no update: they did not take part") }
            if pythonCombiningWriters > 0 && byPythonCombining == 0 {
                problems.append("the Python combining writers acknowledged no update: they did not take part")
            }
            combinedSummary = " (combining writers: \(acknowledged) acknowledged updates, \(unknown) outcomes unknown, each settled from the state)"
        }
        summary = "chaos: \(kills.kills) kills, \(current.version) commits, \(lost) lost, \(torn) torn, \(regressions) regressions, \(stale) stale readers"
        if let memberKills {
            summary += " (etcd: \(memberKills) member kills, \(failedCommits) commits failed while a member was down)"
        }
        if pythonWriters + pythonCombiningWriters > 0 {
            summary += " (Python writers: \(kills.pythonKills) kills"
            if pythonWriters > 0 { summary += ", \(byPython) acknowledged commits" }
            if pythonCombiningWriters > 0 { summary += ", \(byPythonCombining) acknowledged combined updates" }
            summary += ")"
        }
        summary += combinedSummary
    }

    /// Checks the combining writers' logs against the final state: each writer's acknowledged
    /// updates numbered 1, 2, 3, … (an unknown outcome settled from the state may skip one), no
    /// violation logged, and its counter in the final state equal to its last acknowledged
    /// number, or one more (the update it had published when it was killed, committed after).
    static func check(_ logs: [[Substring]], final: [String: Int64]) -> (problems: [String], acknowledged: Int, unknown: Int) {
        var problems: [String] = []
        var acknowledged = 0, unknown = 0
        for lines in logs {
            var key: String?
            var last: Int64 = 0
            // After an unknown outcome the writer went on from what the state held.
            var settled = false
            for line in lines {
                let fields = line.split(separator: " ")
                switch fields.first {
                case "c"? where fields.count == 4:
                    guard let number = Int64(fields[2]) else { continue }
                    key = String(fields[1])
                    if settled ? number <= last : number != last + 1 {
                        problems.append("a combining writer acknowledged update \(number) after \(last): \(line)")
                    }
                    last = number
                    settled = false
                    acknowledged += 1
                case "unknown"?:
                    unknown += 1
                    settled = true
                case "violation"?:
                    problems.append("a combining writer saw: \(line)")
                default:
                    continue
                }
            }
            guard let key, !settled else { continue }
            let held = final[key] ?? 0
            if held < last { problems.append("combining writer \(key): \(last) updates acknowledged, the final state holds \(held) (lost)") }
            if held > last + 1 { problems.append("combining writer \(key): \(last) updates acknowledged, the final state holds \(held) (applied twice)") }
        }
        return (problems, acknowledged, unknown)
    }
}
