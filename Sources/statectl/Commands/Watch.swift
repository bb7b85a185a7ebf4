import ArgumentParser
import Foundation
import StateCoordinator

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one JSON line per version, the current one first, as they are committed.",
        discussion: """
            Each line is {"version", "committedAt", "writer", "state"}, flushed at once. Without history a burst \
            may coalesce (only its newest version is printed); with history on, gaps are filled from kept \
            versions. --since V first replays the kept versions after V, then follows live.

            --as LABEL registers the watch as reader LABEL (statectl readers lists it; it reports each version it \
            loaded); with --ack it also acknowledges each version once its line is written, so that writers using \
            --await-ack count it as applied.

            Example: statectl watch --count 1 --since 41
            Example: statectl watch --as risk-sidecar --ack | ./apply-limits.sh
            Example: statectl watch --timeout 30 | jq .state.halt
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Exit 0 after this many lines.", valueName: "n")) var count: Int?
    @Option(help: ArgumentHelp("Exit 7 when this many seconds pass first.", valueName: "seconds")) var timeout: Double?
    @Option(help: ArgumentHelp("Replay the kept versions after this one first.", valueName: "version")) var since: UInt64?
    @Option(name: .customLong("as"), help: ArgumentHelp("Register as reader LABEL (see statectl readers).", valueName: "label"))
    var label: String?
    @Flag(help: "With --as: acknowledge each version once its line is written and flushed.") var ack = false

    /// The longest --timeout accepted: a year (a larger or infinite one is leaving it out).
    static let longestTimeout: Double = 365 * 24 * 3600

    func validate() throws {
        if let count, count <= 0 { throw ValidationError("--count must be positive.") }
        if ack && label == nil { throw ValidationError("--ack needs --as LABEL: only a registered reader acknowledges.") }
        if let label, label.isEmpty || label.utf8.count > 200 || label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("--as takes a label of 1 to 200 bytes without control characters.")
        }
        if let timeout, !(timeout >= 0 && timeout <= Self.longestTimeout) {
            throw ValidationError("--timeout must be a number of seconds from 0 to \(Int(Self.longestTimeout)) (a year); leave it out to wait for ever.")
        }
    }

    func run() async throws {
        let store = try await global.openReadOnly()
        let historyOn = try await store.read().settings.keepsHistory
        let watch = StateObservation(since.map(WatchDelivery.after) ?? (historyOn ? .every : .latest), label: label).events(in: store)
        if label != nil { GracefulStop.install { await watch.unregister() } }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await follow(watch) }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int64((timeout * 1000).rounded(.up))))
                    return false
                }
            }
            let finished = try await group.next() ?? true
            group.cancelAll()
            if !finished { throw CLIFailure(.deadline, "the --timeout of \(timeout ?? 0) seconds passed.") }
        }
    }

    /// Prints versions until --count is reached (true) or the watch ends.
    private func follow(_ watch: StateWatch<JSONValue>) async throws -> Bool {
        var printed = 0
        for await event in watch {
            switch event {
            case .snapshot(let snapshot):
                let line: JSONValue = [
                    "version": .unsigned(snapshot.version),
                    "committedAt": .string(Output.timestamp(snapshot.committedAt)),
                    "writer": Output.writer(snapshot.writer),
                    "state": snapshot.state,
                ]
                Output.line(line.compactJSON)
                if ack { watch.acknowledge(snapshot) }
                printed += 1
                if let count, printed >= count {
                    // The last acknowledgement is written and the entry removed before the process
                    // exits: a reader that ends normally leaves nothing behind in the registry.
                    await watch.unregister()
                    return true
                }
            case .gap(let missing):
                diagnose("versions \(missing.lowerBound)-\(missing.upperBound) are no longer kept; continuing with the oldest kept.")
            case .storeReset(_, let newID): diagnose("the store was re-created (new identity \(newID)).")
            case .problem(let error): diagnose(error.description)
            case .storeGone(let path): diagnose("\(path) is gone; waiting for it to come back.")
            case .modeChanged(let mode): diagnose("watching by \(mode).")
            }
        }
        return true
    }

    private func diagnose(_ text: String) {
        FileHandle.standardError.write(Data("statectl: \(text)\n".utf8))
    }
}
