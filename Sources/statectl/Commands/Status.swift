import ArgumentParser
import Foundation
import StateCoordinator
import StateDocuments

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show version, size, age, last writer, lock holder, watch mode, orphan temp files, history.",
        discussion: """
            --json keys: version, size, ageSeconds, writer, lockHolder (null or {"pid", "uid", "command"}), lockFileWarning \
            (null, or why someone who is not a writer could hold the writer lock), watchMode \
            ({"mode": "inotify" or "polling", "reason"}), orphanTempFiles (left by writers that died; listed only while \
            no writer holds the lock, since a temp file may be a commit in flight), historyCount, schema (null, or the \
            checksum of the schema in force), readers \
            ({"live", "lagging", "rejecting"}: registered readers alive, those that have not applied the current \
            version, and those rejecting a version newer than the one they applied; statectl readers lists them).

            Example: statectl status --json | jq .lockHolder
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let store = try await global.openReadOnly()
        let snapshot = try await store.read()
        let holder = try await store.lockHolder()
        let mode = await store.supportedWatchMode()
        let orphans = try await store.orphanTempFiles()
        let historyCount = try await store.history().count
        // A broken registry is said here, not taken for "no readers", and fails nothing else.
        let readers: [RegisteredReader]
        var registryProblem: String?
        do { readers = try await store.readers() } catch {
            readers = []
            registryProblem = error.description
        }
        let status = StatusDocument(
            snapshot: snapshot, holder: holder, mode: mode, orphans: orphans, historyCount: historyCount, readers: readers,
            registryProblem: registryProblem, lockFileWarning: await store.lockFileExposure())
        let age = Date().timeIntervalSince(snapshot.committedAt)
        if json {
            Output.line(JSONValue.object(status.json()).prettyJSON)
        } else {
            Output.line("""
                store:        \(store.stateFilePath)
                version:      \(snapshot.version)
                size:         \(snapshot.fileSize) bytes
                age:          \(String(format: "%.1f", age)) s (committed \(Output.timestamp(snapshot.committedAt)))
                last writer:  \(snapshot.writer)
                lock holder:  \(holder.map(\.description) ?? "none")
                lockfile:     \(status.lockFileWarning.map { "WARNING: \($0)" } ?? "writers only")
                watch mode:   \(mode)
                orphan temps: \(orphans.isEmpty ? "none" : TerminalText.safe(orphans.joined(separator: ", ")))
                history:      \(historyCount) kept (keep \(snapshot.settings.keepHistory)\(snapshot.settings.keepHistoryFor.map { ", and every version of the last \($0.components.seconds) s" } ?? ""))
                schema:       \(snapshot.settings.schema.map { "\($0) (statectl schema get)" } ?? "none")
                readers:      \(registryProblem.map { "unknown: \($0)" } ?? "\(readers.count) live, \(status.laggingReaders) lagging, \(status.rejectingReaders) rejecting")
                """)
        }
    }

}
