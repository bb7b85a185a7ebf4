import Foundation
import StateCoordinator
import StateDocuments

/// How statectl shows registered readers and acknowledgement reports.
enum ReaderOutput {
    static func json(_ report: AcknowledgementReport, currentVersion: UInt64) -> JSONValue {
        [
            "version": .unsigned(report.version),
            "complete": .bool(report.isComplete),
            "timedOut": .bool(report.timedOut),
            "waitedSeconds": .double((report.waited.secondsValue * 1000).rounded() / 1000),
            "applied": .array(report.applied.map { ReaderDocument.json($0) }),
            "lagging": .array(report.lagging.map { ReaderDocument.json($0) }),
            "rejected": .array(report.rejected.map { ReaderDocument.json($0) }),
            "died": .array(report.died.map { ReaderDocument.json($0) }),
            "missingLabels": .array(report.missingLabels.map(JSONValue.string)),
            "ignored": .array(report.ignored.map { ReaderDocument.json($0) }),
            "unreachable": .array(report.unreachable.map { ReaderDocument.json($0) }),
            "unreachableHosts": ReaderDocument.json(report.unreachableHosts),
            "problem": report.problem.map(JSONValue.string) ?? .null,
        ]
    }

    /// `bot-eu-1@botuser (pid 12 on host)`: the label with the user running the reader.
    static func name(_ reader: RegisteredReader) -> String {
        let user = reader.owner == nil ? "" : "@" + self.user(reader)
        let via = switch reader.connection {
        case .local: ""
        case .direct: ", direct on etcd"
        case .mirror: ", behind its host's mirror"
        }
        return "\(displayLabel(reader))\(user) (pid \(reader.processID)\(reader.hostName.isEmpty ? "" : " on \(printable(reader.hostName))")\(via))"
    }

    /// The user owning a reader's entry: its name, or its uid when it has none; `?` when unknown.
    static func user(_ reader: RegisteredReader) -> String {
        guard let owner = reader.owner else { return "?" }
        return reader.ownerName.map(printable) ?? String(owner)
    }

    /// The label for a table or a message: "(registering)" before the record exists, the
    /// problem when it cannot be read.
    static func displayLabel(_ reader: RegisteredReader) -> String {
        if !reader.label.isEmpty { return printable(reader.label) }
        if let problem = reader.problem { return "(\(printable(problem)))" }
        return "(registering)"
    }

    /// Text from a record, which any process may write: control characters shown as `?`, so
    /// that none reaches the terminal.
    static func printable(_ text: String) -> String { TerminalText.safe(text) }

    static func version(_ mark: RegisteredReader.Mark?) -> String { mark.map { String($0.version) } ?? "none" }

    /// The lines for stderr: each laggard, rejection, missing label and death.
    static func diagnostics(
        _ report: AcknowledgementReport, selection: ReaderSelection, timeout: Double, storeNamesReaderUsers: Bool = false
    ) -> [String] {
        var lines: [String] = []
        // A label without a user, in a store that names no reader users: any local user may have
        // registered it. Say who confirmed, so that an impostor is seen.
        let unqualified = selection.wanted?.contains { $0.owner == nil } ?? true
        // Readers on etcd have no local user to name (the note is about local users).
        if unqualified && !storeNamesReaderUsers && report.applied.contains(where: { $0.owner != nil }) {
            let owners = Set(report.applied.filter { $0.owner != nil }.map { user($0) }).sorted()
            lines.append(
                "note: confirmed by readers of \(owners.count == 1 ? "user" : "users") \(owners.joined(separator: ", ")); any local user may register any label: "
                    + "name the users (--await-ack LABEL@USER) or the store's reader users (statectl readers --set-users) so that only theirs count.")
        }
        if let problem = report.problem { lines.append("the reader registry cannot be read whole, so not every reader could confirm version \(report.version): \(printable(problem))") }
        let total = report.applied.count + report.lagging.count + report.rejected.count + report.died.count + report.unreachable.count
        if total == 0 && report.missingLabels.isEmpty && report.problem == nil {
            lines.append("warning: no registered reader was live; version \(report.version) was not confirmed by anyone.")
        }
        for reader in report.lagging {
            lines.append(
                "\(name(reader)) has not applied version \(report.version) after \(formatted(timeout)) s: loaded \(version(reader.loaded)), applied \(version(reader.applied))"
                    + (reader.applied == nil ? " (it has acknowledged nothing yet: a reader that never acknowledges, such as watch --as without --ack, is better left out of --await-ack all)." : "."))
        }
        for reader in report.rejected {
            lines.append("\(name(reader)) rejected version \(reader.rejected?.version ?? report.version): \(printable(reader.rejected?.error ?? "")).")
        }
        for label in report.missingLabels {
            lines.append("no live reader is registered as '\(label)' (after \(formatted(timeout)) s).")
        }
        for reader in report.ignored {
            lines.append(
                "\(name(reader)) was not waited for: "
                    + (reader.problem.map(printable) ?? "it is run by a user not asked for (LABEL@USER) or not among the store's reader users")
                    + "; whatever it acknowledges does not count.")
        }
        for host in report.unreachableHosts {
            lines.append(
                "\(host.summary) (not applied, not dead: \(host.readers.map(name).joined(separator: ", "))).")
        }
        for reader in report.died {
            lines.append("\(name(reader)) died before applying version \(report.version) (not waited for).")
        }
        return lines
    }

    /// One line per reader that applied the version: who, and how long after the commit (its
    /// clock against the writer's; hosts out of step skew it).
    static func confirmations(_ report: AcknowledgementReport, committedAt: Date) -> [String] {
        report.applied.map { reader in
            let took = reader.applied.map { max(0, $0.at.timeIntervalSince(committedAt)) * 1000 }
            return "\(name(reader)) applied version \(report.version)" + (took.map { String(format: " after %.0f ms", $0) } ?? "") + "."
        }
    }

    static func formatted(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.3g", seconds)
    }
}

extension Duration {
    var secondsValue: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
