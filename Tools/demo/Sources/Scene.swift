import ArgumentParser
import Foundation
import StateCoordinator

/// The scene: what the software is for, in under a minute. Two Python bots (the package) and a
/// Swift bot (the library) trade against shared limits; the sidecar serves its live page; an
/// operator raises a limit, makes a typo the schema refuses, kills a bot mid-commit and restarts
/// it, and halts every bot with `statectl set /halt true --await-ack all`. Then it checks what
/// matters: trades after the halt, lost updates, `statectl verify`.
struct Scene: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play the trading scene (the default).",
        discussion: "Removes its temporary directory at the end; --keep leaves the store and the sidecar up for a look.")

    @Flag(help: "Leave the store and the sidecar running at the end (the bots stop).") var keep = false

    static let bots: [(label: String, python: Bool)] = [("py-bot-1", true), ("py-bot-2", true), ("swift-bot", false)]

    func run() async throws {
        try SceneCast.checkPrerequisites()
        let base = try Self.makeTemporaryDirectory()
        let cast = SceneCast(store: base + "/store", logs: base + "/logs")
        let emergency = EmergencyStop(base: base, keep: keep, children: cast.started)
        var succeeded = false
        defer {
            cast.stopBots()
            if !(keep && succeeded) {
                cast.stopSidecar()
                try? FileManager.default.removeItem(atPath: base)
            }
            emergency.disarm()
        }
        let clock = SceneClock()
        try await play(cast: cast, clock: clock)
        succeeded = true
    }

    private func play(cast: SceneCast, clock: SceneClock) async throws {
        // The store, as an operator makes it: a schema, history, and the users whose readers count.
        try FileManager.default.createDirectory(atPath: cast.store, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try FileManager.default.createDirectory(atPath: cast.logs, withIntermediateDirectories: false)
        try Data(TradingState.schema.utf8).write(to: URL(fileURLWithPath: cast.logs + "/schema.json"))
        try JSONEncoder().encode(TradingState()).write(to: URL(fileURLWithPath: cast.logs + "/initial.json"))
        let user = NSUserName()
        // 0644: the demo's state is no secret, so the sidecar may serve it on loopback without a token.
        let made = try cast.statectl([
            "init", "--from", cast.logs + "/initial.json", "--schema", cast.logs + "/schema.json", "--keep-history", "50",
            "--mode", "0644", "--reader-users", user,
        ])
        guard made.status == 0 else { throw SceneFailure("statectl init failed: \(made.errors)") }
        let store = try await ReadOnlyStateStore<TradingState>(directory: cast.store)
        let firstVersion = try await store.read().version
        let url = try cast.startSidecar()
        for bot in Self.bots { try cast.startBot(label: bot.label, python: bot.python) }

        narrate("""
            StateCoordinator: three trading bots share one state; an operator steers them.
              store    \(cast.store)   (statectl --dir \(cast.store) status)
              sidecar  \(url)   (the live page; also /metrics, /readers, /events)
              bots     py-bot-1, py-bot-2 (Python, the statecoordinator package), swift-bot (Swift, the library)

            """)
        let registered = try await waitForBots(store, cast: cast)
        clock.start()
        clock.say("bots registered as readers: \(registered.joined(separator: ", "))")
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }

        try await clock.show(reader, until: 2.5, cast: cast)
        clock.say("the risk desk raises the limit, with a typo first:")
        let typo = try clock.operate(cast, ["set", "/limits/maxPositon", "200"])
        guard typo.status == 11 else { throw SceneFailure("the schema should have refused /limits/maxPositon (exit 11), got \(typo.status)") }
        clock.note("refused by the store's schema: nothing committed, no bot saw it")
        let raised = try clock.operate(cast, ["set", "/limits/maxPosition", "200"])
        guard raised.status == 0 else { throw SceneFailure("raising the limit failed: \(raised.errors)") }
        clock.note("committed; every bot trades against 200 from its next update on")

        try await clock.show(reader, until: 6, cast: cast)
        let victim = 1
        let holding = try await killMidCommit(victim, store: store, cast: cast)
        clock.say(
            "SIGKILL \(cast.bots[victim].label) "
                + (holding ? "while it held the writer lock, mid-commit" : "mid-trade (it never held the lock when looked at)"))
        try await Task.sleep(for: .milliseconds(700))
        try cast.restart(victim)
        clock.say("\(cast.bots[victim].label) restarted (pid \(cast.bots[victim].process.processIdentifier)): its position and trades are in the store")

        try await clock.show(reader, until: 10.5, cast: cast)
        clock.say("the operator halts every bot and waits until each confirms:")
        let halt = try clock.operate(cast, ["set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "5", "--json"])
        guard halt.status == 0, let report = HaltReport(json: halt.output) else {
            throw SceneFailure("the halt was not confirmed (exit \(halt.status)): \(halt.output)\(halt.errors)")
        }
        // "all" means every reader registered when it looked: a bot reading unregistered would be
        // left out silently, so the bots who confirmed must be exactly the scene's.
        let confirmed = Set(report.applied.map { String($0.name.prefix { $0 != "@" }) })
        guard confirmed == Set(Self.bots.map(\.label)) else {
            throw SceneFailure("the halt was confirmed by \(confirmed.sorted()), not by every bot \(Self.bots.map(\.label))")
        }
        clock.note(
            "halt committed as version \(report.version); confirmed by all \(report.applied.count) bots in "
                + String(format: "%.0f ms", report.milliseconds))
        clock.note(
            "each bot's acknowledgement, after the commit: "
                + report.applied.map { String(format: "%@ %.0f ms", $0.name, $0.milliseconds) }.joined(separator: ", "))

        try await Task.sleep(for: .seconds(1))
        let afterHalt = try await store.read()
        let atHalt = try await store.snapshot(atVersion: report.version)
        let tradesAfterHalt = afterHalt.state.trades.values.reduce(0, +) - atHalt.state.trades.values.reduce(0, +)
        clock.say("one second after the halt: \(afterHalt.version - report.version) commits, \(tradesAfterHalt) trades")
        let failed = cast.failedBots()
        cast.stopBots()
        let verify = try cast.statectl(["verify"])
        try summarize(
            store: store, cast: cast, firstVersion: firstVersion, operatorCommits: 2, tradesAfterHalt: tradesAfterHalt,
            verify: verify, failed: failed, url: url)
    }

    /// Waits until every bot is a live registered reader; returns their `label@user` names.
    private func waitForBots(_ store: ReadOnlyStateStore<TradingState>, cast: SceneCast) async throws -> [String] {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let readers = try await store.readers()
            if Set(readers.map(\.label)) == Set(Self.bots.map(\.label)) { return readers.map(\.qualifiedLabel).sorted() }
            let failed = cast.failedBots()
            guard failed.isEmpty else { throw SceneFailure("a bot stopped: \(failed.joined(separator: "; "))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SceneFailure("the bots did not register within 30 s (their stderr is in \(cast.logs))")
    }

    /// SIGKILLs bot `index`, at a moment it holds the writer lock if one comes within 2 s.
    /// Returns whether it did hold it.
    private func killMidCommit(_ index: Int, store: ReadOnlyStateStore<TradingState>, cast: SceneCast) async throws -> Bool {
        let pid = cast.bots[index].process.processIdentifier
        let deadline = Date().addingTimeInterval(2)
        var holding = false
        while Date() < deadline {
            if let holder = try? await store.lockHolder(), holder.pid == pid {
                holding = true
                break
            }
            usleep(200)
        }
        cast.kill(index)
        return holding
    }

    private func summarize(
        store: ReadOnlyStateStore<TradingState>, cast: SceneCast, firstVersion: UInt64, operatorCommits: UInt64,
        tradesAfterHalt: Int, verify: SceneCast.Outcome, failed: [String], url: String
    ) throws {
        let final = try store.read()
        var lost = 0, unconfirmed = 0
        var problems: [String] = failed
        narrate("\nsummary")
        for bot in cast.bots {
            let logged = cast.loggedTrades(bot)
            let inStore = final.state.trades[bot.label, default: 0]
            // Every trade a bot was told was committed (and sent an order for) is in the store.
            let missing = Set(logged).filter { $0 > inStore }.count + (logged.count - Set(logged).count)
            lost += missing
            // A bot killed after its commit returned, before its order went out: committed, not sent.
            unconfirmed += max(0, inStore - (logged.max() ?? 0))
            let position = final.state.positions[bot.label, default: 0]
            let kills = bot.kills > 0 ? ", killed \(bot.kills)× and restarted" : ""
            narrate(String(format: "  %-10@ %-7@ %4d trades, position %+4d%@", bot.label, bot.python ? "Python" : "Swift", inStore, position, kills))
            if abs(position) > final.state.limits.maxPosition { problems.append("\(bot.label)'s position \(position) is beyond the limit") }
        }
        let trades = final.state.trades.values.reduce(0, +)
        let versions = final.version - firstVersion
        if versions != UInt64(trades) + operatorCommits {
            problems.append("\(versions) commits for \(trades) trades and \(operatorCommits) operator commits: an update was lost or doubled")
        }
        narrate("  trades after the halt: \(tradesAfterHalt)")
        narrate("  lost updates: \(lost)  (every trade a bot sent an order for is in the store; \(versions) commits = \(trades) trades + \(operatorCommits) operator commits)")
        if unconfirmed > 0 { narrate("  committed but no order sent: \(unconfirmed) (the killed bot died between its commit and its order)") }
        narrate("  statectl verify: \(verify.status == 0 ? "ok" : "FAILED (exit \(verify.status))")")
        if tradesAfterHalt != 0 { problems.append("\(tradesAfterHalt) trades after the halt") }
        if lost != 0 { problems.append("\(lost) trades lost") }
        if verify.status != 0 { problems.append("statectl verify: \(verify.output)\(verify.errors)") }
        if keep {
            narrate("\nleft running: the sidecar (pid \(cast.sidecar?.processIdentifier ?? 0)) at \(url); stop it with kill \(cast.sidecar?.processIdentifier ?? 0)")
            narrate("the store: statectl --dir \(cast.store) status | history | readers")
        }
        guard problems.isEmpty else {
            for problem in problems { FileHandle.standardError.write(Data("state-demo: \(problem)\n".utf8)) }
            throw ExitCode.failure
        }
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/state-demo-XXXXXX").utf8CString)
        guard let path = mkdtemp(&template) else { throw SceneFailure("cannot create a temporary directory") }
        let made = String(cString: path)
        chmod(made, 0o755)  // the sidecar serves on loopback without a token only what every user may read
        return made
    }
}
