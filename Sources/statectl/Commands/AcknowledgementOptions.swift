import ArgumentParser
import Foundation
import StateCoordinator

/// `--await-ack [all|LABEL,…]` and `--ack-timeout`: after a commit, wait until the registered
/// readers have applied it.
struct AcknowledgementOptions: ParsableArguments {
    @Option(
        name: .customLong("await-ack"),
        help: ArgumentHelp(
            "After the commit, wait until these registered readers applied it: all (every reader live at the commit) or labels, comma-separated (exit 10 if one lags past --ack-timeout or rejects it).",
            valueName: "all|label,…"))
    var awaitAck: String?

    @Option(help: ArgumentHelp("Seconds --await-ack waits (default 10).", valueName: "seconds"))
    var ackTimeout: Double?

    /// The wait's length in seconds.
    var waitSeconds: Double { ackTimeout ?? 10 }

    /// The longest --ack-timeout accepted: a day.
    static let longestTimeout: Double = 24 * 3600

    func validate() throws {
        if ackTimeout != nil && awaitAck == nil {
            throw ValidationError("--ack-timeout needs --await-ack all|LABEL,…: there is nothing to wait for.")
        }
        guard waitSeconds >= 0, waitSeconds <= Self.longestTimeout else {
            throw ValidationError("--ack-timeout must be a number of seconds from 0 to \(Int(Self.longestTimeout)) (a day).")
        }
        if let awaitAck, selection(awaitAck) == nil {
            throw ValidationError("--await-ack takes 'all' or labels separated by commas, not '\(awaitAck)'.")
        }
    }

    var selection: ReaderSelection? { awaitAck.flatMap(selection) }

    private func selection(_ text: String) -> ReaderSelection? {
        if text == "all" { return .all }
        let labels = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !labels.isEmpty, labels.allSatisfy({ !$0.isEmpty }) else { return nil }
        return .labels(Set(labels))
    }

    var timeout: Duration { .milliseconds(Int64((waitSeconds * 1000).rounded(.up))) }

}

extension ReadableStateStore {
    /// After a commit: prints the committed version (with --json, its metadata and the
    /// acknowledgement report), and with --await-ack waits for the readers first. Throws exit 10
    /// when one lagged, rejected the version, or a label named had no live reader.
    func printCommitted(_ snapshot: StateSnapshot<State>, json: Bool, acknowledgement: AcknowledgementOptions) async throws
    where State == JSONValue {
        guard let selection = acknowledgement.selection else {
            Output.committed(snapshot, json: json)
            return
        }
        let report = await waitForAcknowledgements(of: snapshot, from: selection, timeout: acknowledgement.timeout)
        if json {
            guard case .object(var object) = Output.meta(snapshot) else { return }
            object["acknowledgements"] = ReaderOutput.json(report, currentVersion: snapshot.version)
            Output.line(JSONValue.object(object).prettyJSON)
        } else {
            Output.committed(snapshot, json: false)
        }
        for line in ReaderOutput.diagnostics(report, selection: selection, timeout: acknowledgement.waitSeconds) {
            FileHandle.standardError.write(Data("statectl: \(line)\n".utf8))
        }
        guard report.isComplete else {
            throw CLIFailure(
                .acknowledgementsIncomplete,
                "version \(snapshot.version) is committed, but not every reader applied it (see above); do not commit it again.")
        }
    }
}
