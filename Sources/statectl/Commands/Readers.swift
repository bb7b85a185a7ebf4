import ArgumentParser
import Foundation
import StateCoordinator
import StateDocuments

struct Readers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the live registered readers: label, user, pid, host, since when, loaded and applied versions, lag, rejection.",
        discussion: """
            Readers register with a label (the library's reader(label:), statectl watch --as). Any local user may \
            register any label: USER is the user owning the entry's files, the one thing no one else can forge. \
            Entries of readers that died are removed on the way and never listed. Lag is counted from the applied \
            version: versions behind the current one, and seconds since the first version it has not applied was \
            committed (from history when kept, else since the current version: then shown with >=). A reader that \
            never acknowledges shows no applied version.

            Only readers that count are listed: when the store names its reader users (--set-users), readers of \
            other users are named on stderr as not counted, as are entries that are no reader's (files of two \
            users, a planted link) and a registry too full to look at whole.

            --json: an array of {"id", "label", "owner", "user", "pid", "host", "registeredAt", "storeID", \
            "loadedVersion", "appliedVersion", "appliedAt", "rejectedVersion", "rejectedError", "lagVersions", \
            "lagSeconds", "connection" (local, or on etcd direct or mirror)}. With --all: {"readers", "notCounted", "invalid", "entryCount", "considered", "complete", \
            "warning"}; on etcd also "unreachableHosts" ([{"host", "lastHeard", "mirror", "summary", "readers"}]) and \
            "leaseLost" (readers whose lease is gone while their host is heard from).

            On a store on etcd the listing covers every host: readers direct on etcd and readers behind their \
            host's mirror (VIA), and hosts whose readers' state is unknown (their mirror, or every direct reader there, \
            lost its lease), named with when they were last heard of. --await-ack waits, without committing, until the \
            readers have applied the current version (or --version V): what an operator runs again once a cut-off \
            host is back. --forget removes what the roster keeps of a reader (its ID) or of a whole host \
            (host:NAME) that will not come back, so that waits stop counting it as unknown.

            Example: statectl readers
            Example: statectl readers --json | jq '.[] | select(.lagVersions != 0) | .label'
            Example: statectl readers --set-users botuser,monitor
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Also list readers not counted and invalid entries (with --json: one object).") var all = false
    @Option(
        help: ArgumentHelp(
            "Count only the readers run by these users (names or uids, comma-separated; none: every user's), as a new version with the same state.",
            valueName: "user,…|none"))
    var setUsers: String?
    @OptionGroup var acknowledgement: AcknowledgementOptions
    @Option(help: ArgumentHelp("With --await-ack: the version to wait for (default: the current one).", valueName: "version"))
    var version: UInt64?
    @Option(
        help: ArgumentHelp(
            "On etcd: forget a reader the roster keeps (its ID) or every reader of a host (host:NAME) that is gone for good.",
            valueName: "id|host:name"))
    var forget: String?

    func validate() throws {
        if setUsers != nil && all { throw ValidationError("--set-users changes the store's reader users; it takes no listing option.") }
        if let setUsers, setUsers != "none" { _ = try Self.uids(setUsers) }
        if version != nil && acknowledgement.awaitAck == nil { throw ValidationError("--version says which version --await-ack waits for: give --await-ack too.") }
        let modes = [setUsers != nil, acknowledgement.awaitAck != nil, forget != nil].filter { $0 }.count
        if modes > 1 { throw ValidationError("--set-users, --await-ack and --forget are three different things: give one of them.") }
        if (acknowledgement.awaitAck != nil || forget != nil) && all { throw ValidationError("--all lists; it goes with neither --await-ack nor --forget.") }
        if let forget, forget.isEmpty || forget == "host:" { throw ValidationError("--forget takes a reader's ID or host:NAME.") }
    }

    /// The uids of `text` (`alice,1001`).
    static func uids(_ text: String) throws -> [UInt32] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !names.isEmpty, names.count <= StoreSettings.largestReaderUsers else {
            throw ValidationError("--set-users takes 1 to \(StoreSettings.largestReaderUsers) users separated by commas, or none.")
        }
        return try names.map { name in
            guard let uid = UserAccount.uid(named: name) else {
                throw ValidationError("--set-users: '\(TerminalText.safe(name))' is no user of this system (give a user name or a uid).")
            }
            return uid
        }
    }

    func run() async throws {
        if let selection = acknowledgement.selection {
            let store = try await global.openStore()
            let snapshot: StateSnapshot<JSONValue>
            if let version { snapshot = try await store.snapshot(atVersion: version) } else { snapshot = try await store.read() }
            return try await store.awaitAcknowledgements(of: snapshot, selection: selection, json: json, acknowledgement: acknowledgement)
        }
        if let forget {
            let store = try await global.openStore()
            let removed = forget.hasPrefix("host:")
                ? try await store.forgetReaders(hostName: String(forget.dropFirst("host:".count)))
                : try await store.forgetReaders(id: forget)
            FileHandle.standardError.write(Data("statectl: forgot \(removed) roster entr\(removed == 1 ? "y" : "ies").\n".utf8))
            return
        }
        if let setUsers {
            let uids = setUsers == "none" ? nil : try Self.uids(setUsers)
            let snapshot = try await global.openStore().setReaderUsers(uids)
            return Output.committed(snapshot, json: json)
        }
        let store = try await global.openReadOnly()
        let current = try await store.read()
        let listing = try await store.readerListing()
        // Only for lag in seconds: a history that cannot be read leaves the lower bound.
        let history = (try? await store.history()) ?? []
        let now = Date()
        if json {
            let document = all
                ? ReaderDocument.json(listing, current: current, history: history, now: now)
                : ReaderDocument.json(listing.readers, current: current, history: history, now: now)
            Output.line(document.prettyJSON)
        } else if listing.readers.isEmpty {
            FileHandle.standardError.write(Data("statectl: no live registered reader that counts (current version \(current.version)).\n".utf8))
        } else {
            table(listing.readers, current: current, history: history, now: now)
        }
        if !json {
            if !listing.leaseLost.isEmpty {
                Output.line("")
                Output.line("lease gone while their host is heard from (dead, most likely):")
                table(listing.leaseLost, current: current, history: history, now: now)
            }
            for host in listing.unreachableHosts {
                Output.line("")
                Output.line("\(host.summary):")
                table(host.readers, current: current, history: history, now: now)
            }
        }
        if all && !json {
            if !listing.notCounted.isEmpty {
                Output.line("")
                Output.line("not counted (users the store's reader users do not name):")
                table(listing.notCounted, current: current, history: history, now: now)
            }
            for entry in listing.invalid {
                Output.line("invalid entry \(TerminalText.safe(entry.id))\(entry.owner.map { " (uid \($0))" } ?? ""): \(TerminalText.safe(entry.reason))")
            }
        }
        if let warning = ReaderDocument.warning(listing), !(all && json) {
            FileHandle.standardError.write(Data("statectl: warning: \(warning)\n".utf8))
        }
    }

    private func table(_ readers: [RegisteredReader], current: StateSnapshot<JSONValue>, history: [HistoryEntry], now: Date) {
        let lags = readers.map { ReaderDocument.lagSeconds($0, current: current, history: history, now: now) }
        // On etcd, how each reader reaches the store instead of a user (etcd readers have none).
        let fleet = readers.contains { $0.connection != .local }
        var rows = [["LABEL", fleet ? "VIA" : "USER", "PID", "HOST", "SINCE", "LOADED", "APPLIED", "LAG", "LAG(s)", "REJECTED"]]
        for (reader, lag) in zip(readers, lags) {
            rows.append([
                ReaderOutput.displayLabel(reader), fleet ? reader.connection.rawValue : ReaderOutput.user(reader), String(reader.processID), ReaderOutput.printable(reader.hostName),
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
