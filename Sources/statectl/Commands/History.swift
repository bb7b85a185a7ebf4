import ArgumentParser
import Foundation
import StateCoordinator

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List kept past versions, newest first: version, commit time, writer.",
        discussion: """
            A kept version that fails verification (a power loss under durability none can leave one empty) is \
            named on stderr after the good ones, and the command exits 5; --prune-damaged removes such entries. \
            --keep-history N [--keep-history-for AGE] changes the retention, as a new version with the same state.

            Example: statectl history --limit 5 --json
            Example: statectl history --writer operator --since 24h
            Example: statectl history --keep-history 50 --keep-history-for 24h
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Show at most this many.", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("Only versions committed by writers with this label.", valueName: "label")) var writer: String?
    @Option(
        help: ArgumentHelp(
            "Only versions committed at or after TIME: an RFC 3339 time (2026-12-05T18:00:00Z) or an age (90s, 15m, 24h, 7d).",
            valueName: "time"))
    var since: String?
    @Flag(help: "One JSON object per line.") var json = false
    @Flag(help: "Remove the kept versions that fail verification (under the writer lock), and list them.") var pruneDamaged = false
    @Option(help: ArgumentHelp("Change the retention: keep this many past versions (a new version with the same state).", valueName: "n"))
    var keepHistory: Int?
    @Option(help: ArgumentHelp("Change the retention: also keep every version of this age (90s, 15m, 24h, 7d; none: by count only).", valueName: "age"))
    var keepHistoryFor: String?

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more.") }
        if let since, TimeArgument.date(since) == nil {
            throw ValidationError("--since takes an RFC 3339 time (2026-12-05T18:00:00Z) or an age such as 90s, 15m, 24h or 7d, not '\(since)'.")
        }
        if pruneDamaged && (limit != nil || writer != nil || since != nil || json) {
            throw ValidationError("--prune-damaged takes no listing option.")
        }
        if keepHistoryFor != nil && keepHistory == nil {
            throw ValidationError("--keep-history-for goes with --keep-history N (the count kept beside the age; 0 for none).")
        }
        if let keepHistory {
            guard keepHistory >= 0 else { throw ValidationError("--keep-history must be 0 or more.") }
            if let keepHistoryFor, keepHistoryFor != "none", (TimeArgument.duration(keepHistoryFor) ?? 0) < 1 {
                throw ValidationError("--keep-history-for takes an age such as 90s, 15m, 24h or 7d, or none, not '\(keepHistoryFor)'.")
            }
            if pruneDamaged || limit != nil || writer != nil || since != nil {
                throw ValidationError("--keep-history changes the retention; it takes no listing option.")
            }
        }
    }

    private var sinceDate: Date? { since.flatMap { TimeArgument.date($0) } }

    func run() async throws {
        if let keepHistory {
            let age = keepHistoryFor.flatMap(TimeArgument.duration).map { Duration.seconds($0) }
            let snapshot = try await global.openStore().setHistoryRetention(keeping: keepHistory, for: age)
            return Output.committed(snapshot, json: json)
        }
        if pruneDamaged {
            let removed = try await global.openStore().pruneDamagedHistory()
            for entry in removed { Output.line("removed \(entry.path): \(entry.reason)") }
            if removed.isEmpty { Output.line("no damaged kept version") }
            return
        }
        let listing = try await global.openReadOnly().historyListing()
        for entry in listing.entries.filter(isShown).prefix(limit ?? .max) {
            if json {
                let object: JSONValue = [
                    "version": .unsigned(entry.version), "committedAt": .string(Output.timestamp(entry.committedAt)),
                    "writer": Output.writer(entry.writer),
                ]
                Output.line(object.compactJSON)
            } else {
                Output.line("\(entry.version)\t\(Output.timestamp(entry.committedAt))\t\(entry.writer)")
            }
        }
        guard listing.damaged.isEmpty else {
            for entry in listing.damaged { Output.note("kept version \(entry.version) is damaged: \(entry.reason)") }
            let count = listing.damaged.count
            throw CLIFailure(
                .corrupt,
                "\(count) kept version\(count == 1 ? " is" : "s are") damaged (the current state is not affected); remove \(count == 1 ? "it" : "them") with statectl history --prune-damaged.")
        }
    }

    /// Whether an entry passes --writer and --since.
    private func isShown(_ entry: HistoryEntry) -> Bool {
        if let writer, entry.writer.label != writer { return false }
        if let since = sinceDate, entry.committedAt < since { return false }
        return true
    }
}
