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
            checksum of the schema in force), readerUsers (null, or the uids whose readers count), readers \
            ({"live", "lagging", "rejecting", "warning"}: registered readers alive that count, those that have not \
            applied the current version, those rejecting a version newer than the one they applied, and what else the \
            registry holds (readers not counted, invalid entries) or null; statectl readers lists them). For a store on \
            etcd, etcd: {"healthy", "leader", "clusterRevision", "storeRevision", "members": [{"endpoint", "id", "leader", \
            "version", "raftTerm", "databaseBytes", "errors", "problem"}]}.

            Example: statectl status --json | jq .lockHolder
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print one JSON object.") var json = false

    /// On etcd: how many hosts the live readers are on, and how many hosts are unreachable.
    static func hostsLine(_ listing: ReaderListing) -> String {
        guard listing.readers.contains(where: { $0.connection != .local }) || !listing.unreachableHosts.isEmpty else { return "" }
        let hosts = Set(listing.readers.map(\.hostName)).count
        let unknown = listing.unreachableHosts.reduce(0) { $0 + $1.readers.count }
        return ", on \(hosts) host\(hosts == 1 ? "" : "s")"
            + (listing.unreachableHosts.isEmpty ? "" : "; \(unknown) unknown on \(listing.unreachableHosts.count) unreachable host\(listing.unreachableHosts.count == 1 ? "" : "s")")
    }

    func run() async throws {
        let store = try await global.openReadOnly()
        let snapshot = try await store.read()
        let holder = try await store.lockHolder()
        let mode = await store.supportedWatchMode()
        let orphans = try await store.orphanTempFiles()
        let historyCount = try await store.history().count
        // A broken registry is said here, not taken for "no readers", and fails nothing else.
        var listing = ReaderListing()
        var registryProblem: String?
        do { listing = try await store.readerListing() } catch { registryProblem = error.description }
        let readers = listing.readers
        let status = StatusDocument(
            snapshot: snapshot, holder: holder, mode: mode, orphans: orphans, historyCount: historyCount, readers: readers,
            registryProblem: registryProblem, lockFileWarning: await store.lockFileExposure(),
            registryWarning: ReaderDocument.warning(listing))
        let age = Date().timeIntervalSince(snapshot.committedAt)
        let cluster = await store.etcdStatus()
        if json {
            var document = status.json()
            if let cluster { document["etcd"] = EtcdStatusDocument.json(cluster) }
            Output.line(JSONValue.object(document).prettyJSON)
        } else {
            for line in cluster.map(EtcdStatusDocument.lines) ?? [] { Output.line(TerminalText.safe(line)) }
            Output.line("""
                store:        \(store.stateFilePath)
                version:      \(snapshot.version)
                size:         \(snapshot.fileSize) bytes
                age:          \(String(format: "%.1f", age)) s (committed \(Output.timestamp(snapshot.committedAt)))
                last writer:  \(snapshot.writer)
                \(cluster != nil ? "writers:      serialized by etcd transactions (no lockfile)" : """
                lock holder:  \(holder.map(\.description) ?? "none")
                lockfile:     \(status.lockFileWarning.map { "WARNING: \($0)" } ?? "writers only")
                """)
                watch mode:   \(mode)
                \(cluster != nil ? "" : "orphan temps: \(orphans.isEmpty ? "none" : TerminalText.safe(orphans.joined(separator: ", ")))\n")\
                history:      \(historyCount) kept (keep \(snapshot.settings.keepHistory)\(snapshot.settings.keepHistoryFor.map { ", and every version of the last \($0.components.seconds) s" } ?? ""))
                schema:       \(snapshot.settings.schema.map { "\($0) (statectl schema get)" } ?? "none")
                \(cluster != nil ? "" : """
                reader users: \(snapshot.settings.readerUsers.map { $0.map { UserAccount.name(of: $0) ?? String($0) }.joined(separator: ", ") } ?? "any (statectl readers --set-users)")

                """)\
                readers:      \(registryProblem.map { "unknown: \(TerminalText.safe($0))" } ?? "\(readers.count) live, \(status.laggingReaders) lagging, \(status.rejectingReaders) rejecting")\(Self.hostsLine(listing))\(status.registryWarning.map { "\n              WARNING: \($0)" } ?? "")
                """)
        }
    }

}
