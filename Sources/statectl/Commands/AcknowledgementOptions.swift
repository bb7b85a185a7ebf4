import ArgumentParser
import Foundation
import StateCoordinator

/// `--await-ack [all|LABEL,…]` and `--ack-timeout`: after a commit, wait until the registered
/// readers have applied it.
struct AcknowledgementOptions: ParsableArguments {
    @Option(
        name: .customLong("await-ack"),
        help: ArgumentHelp(
            "After the commit, wait until these registered readers applied it: all (every reader live at the commit that counts) or labels, comma-separated, each best with the user it runs as (bot-eu-1@botuser: any user may register any label) (exit 10 if one lags past --ack-timeout or rejects it).",
            valueName: "all|label[@user],…"))
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
        if let awaitAck {
            do { _ = try Self.selection(awaitAck) } catch { throw ValidationError("--await-ack: \(error.message) \(error.hint ?? "")") }
        }
    }

    var selection: ReaderSelection? { awaitAck.flatMap { try? Self.selection($0) } }

    private static func selection(_ text: String) throws(StateStoreError) -> ReaderSelection {
        if text == "all" { return .all }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !items.isEmpty, items.allSatisfy({ !$0.isEmpty }) else {
            throw StateStoreError(
                .invalidArgument, "it takes 'all' or labels separated by commas, not '\(TerminalText.safe(text))'.",
                hint: "For example --await-ack bot-eu-1@botuser,bot-us-1@botuser.")
        }
        var names: Set<ReaderName> = []
        for item in items { names.insert(try ReaderName(parsing: item)) }
        return .named(names)
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
        try await awaitAcknowledgements(of: snapshot, selection: selection, json: json, acknowledgement: acknowledgement)
    }
}

extension ReadableStateStore {
    /// Waits for the readers to apply `snapshot`'s version and reports as `--await-ack` does:
    /// with --json the committed version's metadata and the report on stdout, else the version;
    /// each confirmation (on etcd), laggard, rejection and unknown host on stderr. Throws exit 10
    /// unless every reader applied it.
    func awaitAcknowledgements(
        of snapshot: StateSnapshot<State>, selection: ReaderSelection, json: Bool, acknowledgement: AcknowledgementOptions
    ) async throws where State == JSONValue {
        let report = await waitForAcknowledgements(of: snapshot, from: selection, timeout: acknowledgement.timeout)
        if json {
            guard case .object(var object) = Output.meta(snapshot) else { return }
            object["acknowledgements"] = ReaderOutput.json(report, currentVersion: snapshot.version)
            Output.line(JSONValue.object(object).prettyJSON)
        } else {
            Output.committed(snapshot, json: false)
        }
        // Who confirmed, on a fleet across hosts (a store on etcd): each reader with its host and how long it took.
        let confirmations = etcd != nil ? ReaderOutput.confirmations(report, committedAt: snapshot.committedAt) : []
        for line in confirmations + ReaderOutput.diagnostics(
            report, selection: selection, timeout: acknowledgement.waitSeconds, storeNamesReaderUsers: snapshot.settings.readerUsers != nil)
        {
            FileHandle.standardError.write(Data("statectl: \(line)\n".utf8))
        }
        guard report.isComplete else {
            throw CLIFailure(
                .acknowledgementsIncomplete,
                "version \(snapshot.version) is committed, but not every reader applied it (see above); do not commit it again.")
        }
    }
}
