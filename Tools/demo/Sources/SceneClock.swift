import Foundation
import StateCoordinator

/// The scene's narration: each line stamped with the seconds since the bots registered, the
/// operator's commands shown as typed, and a status line a second from the demo's own reader.
final class SceneClock {
    private var started = ContinuousClock.now

    func start() { started = .now }

    var elapsed: Double {
        let duration = ContinuousClock.now - started
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func say(_ text: String) { narrate(String(format: "[%5.1fs] ", elapsed) + text) }

    /// A line under the one before (the outcome of a command).
    func note(_ text: String) { narrate("         → " + text) }

    /// Runs `statectl ARGUMENTS…` as the operator; shows the command, and what it said on stderr.
    func operate(_ cast: SceneCast, _ arguments: [String]) throws -> SceneCast.Outcome {
        say("operator$ statectl " + arguments.joined(separator: " "))
        let outcome = try cast.statectl(arguments)
        for line in outcome.errors.split(separator: "\n") { narrate("           " + line) }
        if outcome.status != 0 { narrate("           (exit \(outcome.status))") }
        return outcome
    }

    /// Prints a status line at each whole second until `seconds` after the start; fails if a bot died.
    func show(_ reader: StateReader<TradingState>, until seconds: Double, cast: SceneCast) async throws {
        while elapsed < seconds {
            let nextLine = (elapsed + 0.001).rounded(.up)
            try await Task.sleep(for: .milliseconds(Int((min(nextLine, seconds) - elapsed) * 1000) + 1))
            let failed = cast.failedBots()
            guard failed.isEmpty else { throw SceneFailure("a bot stopped: \(failed.joined(separator: "; "))") }
            guard elapsed >= nextLine else { continue }
            let current = reader.current
            let bots = Scene.bots.map { bot in
                String(
                    format: "%@ %d trades (%+d)", bot.label, current.state.trades[bot.label, default: 0],
                    current.state.positions[bot.label, default: 0])
            }
            say(
                "v\(current.version)  limit \(current.state.limits.maxPosition)  halt \(current.state.halt ? "ON" : "off")  "
                    + bots.joined(separator: "  "))
        }
    }
}

/// Writes a line of the narration at once (print would hold it in a buffer when stdout is a pipe).
func narrate(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// What `statectl set … --await-ack all --json` said about the halt.
struct HaltReport {
    var version: UInt64
    /// `label@user`, and the milliseconds from the commit to the bot's acknowledgement.
    var applied: [(name: String, milliseconds: Double)]
    /// From the commit until statectl had every acknowledgement.
    var milliseconds: Double

    init?(json: String) {
        let dates = ISO8601DateFormatter()
        dates.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let acknowledgements = object["acknowledgements"] as? [String: Any],
            acknowledgements["complete"] as? Bool == true,
            let version = (object["version"] as? NSNumber)?.uint64Value,
            let committed = (object["committedAt"] as? String).flatMap(dates.date(from:)),
            let applied = acknowledgements["applied"] as? [[String: Any]],
            let waited = (acknowledgements["waitedSeconds"] as? NSNumber)?.doubleValue
        else { return nil }
        self.version = version
        self.applied = applied.map { reader in
            let at = (reader["appliedAt"] as? String).flatMap(dates.date(from:)) ?? committed
            return ("\(reader["label"] as? String ?? "?")@\(reader["user"] as? String ?? "?")", at.timeIntervalSince(committed) * 1000)
        }.sorted { $0.name < $1.name }
        milliseconds = waited * 1000
    }
}

/// Ctrl-C or SIGTERM during the scene: every child stopped, the temporary directory removed
/// (kept with --keep), exit 130.
final class EmergencyStop {
    private let sources: [any DispatchSourceSignal]

    init(base: String, keep: Bool, children: ScenePIDs) {
        let queue = DispatchQueue(label: "state-demo.signals")
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                children.killAll()
                if !keep { try? FileManager.default.removeItem(atPath: base) }
                FileHandle.standardError.write(Data("\nstate-demo: interrupted; every process of the scene stopped\n".utf8))
                exit(130)
            }
            source.resume()
            return source
        }
    }

    func disarm() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
