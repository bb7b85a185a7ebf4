import ArgumentParser
import Foundation
import StateCoordinator
import StateDocuments

struct Readers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the live registered readers: label, pid, host, since when, loaded and applied versions, lag, rejection.",
        discussion: """
            Readers register with a label (the library's reader(label:), statectl watch --as). Entries of readers that \
            died are removed on the way and never listed. Lag is counted from the applied version: versions behind the \
            current one, and seconds since the first version it has not applied was committed (from history when kept, \
            else since the current version: then shown with >=). A reader that never acknowledges shows no applied version.

            --json: an array of {"id", "label", "pid", "host", "registeredAt", "storeID", "loadedVersion", \
            "appliedVersion", "appliedAt", "rejectedVersion", "rejectedError", "lagVersions", "lagSeconds"}.

            Example: statectl readers
            Example: statectl readers --json | jq '.[] | select(.lagVersions != 0) | .label'
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON array.") var json = false

    func run() async throws {
        let store = try await global.openReadOnly()
        let current = try await store.read()
        let readers = try await store.readers()
        // Only for lag in seconds: a history that cannot be read leaves the lower bound.
        let history = (try? await store.history()) ?? []
        let now = Date()
        if json {
            Output.line(ReaderDocument.json(readers, current: current, history: history, now: now).prettyJSON)
            return
        }
        let lags = readers.map { ReaderDocument.lagSeconds($0, current: current, history: history, now: now) }
        guard !readers.isEmpty else {
            FileHandle.standardError.write(Data("statectl: no live registered reader (current version \(current.version)).\n".utf8))
            return
        }
        var rows = [["LABEL", "PID", "HOST", "SINCE", "LOADED", "APPLIED", "LAG", "LAG(s)", "REJECTED"]]
        for (reader, lag) in zip(readers, lags) {
            rows.append([
                ReaderOutput.displayLabel(reader), String(reader.processID), ReaderOutput.printable(reader.hostName),
                Output.timestamp(reader.registeredAt), ReaderOutput.version(reader.loaded).replacingOccurrences(of: "none", with: "-"),
                ReaderOutput.version(reader.applied).replacingOccurrences(of: "none", with: "-"),
                ReaderDocument.lagVersions(reader, current).map(String.init) ?? "-",
                lag.map { ($0.atLeast ? ">=" : "") + String(format: "%.1f", $0.seconds) } ?? "-",
                reader.isRejecting ? "\(reader.rejected!.version): \(ReaderOutput.printable(reader.rejected!.error))" : "-",
            ])
        }
        let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let padded = row.enumerated().map { column, cell in
                column < widths.count ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) : cell
            }
            Output.line(padded.joined(separator: "  "))
        }
    }

}
