import ArgumentParser
import Foundation
import StateCoordinator

struct Mirror: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a store on etcd and commit each version into a local store, with the same version numbers.",
        discussion: """
            Needs both --etcd (the source; or $STATECTL_ETCD) and --dir (the local directory); --name names the \
            store in both. The local store is created at etcd's current version when it does not exist, then each \
            later version is committed through the ordinary writer path, under the local writer lock, as exactly \
            etcd's version number: local bots keep their inotify readers, read-ahead and the local reader registry. \
            The mirror never writes to etcd.

            After an outage (or a restart) it catches up from the versions etcd still keeps (init --keep-history) \
            and reports the ones it could not fill. Two mirrors of one directory never both write a version. A \
            version in the local store that etcd does not have (a local writer) stops the mirror with exit 3: \
            a mirrored store takes its writes on etcd.

            Prints one JSON line per event: {"event":"started","localVersion":L,"sourceVersion":S,"created":B}, \
            {"event":"mirrored","version":V}, {"event":"gap","from":A,"to":B}, {"event":"committedElsewhere","version":V}; \
            problems of the etcd watch go to stderr and the mirror goes on. Runs until killed, or --until VERSION.

            Example: statectl mirror --etcd https://etcd-1:2379,https://etcd-2:2379 --cacert ca.pem --dir /srv/bot --name risk
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Exit 0 once this version is mirrored.", valueName: "version")) var until: UInt64?

    func validate() throws {
        guard global.etcdEndpoints != nil else {
            throw ValidationError("mirror follows a store on etcd: give --etcd URL[,URL...] (or set STATECTL_ETCD).")
        }
        guard global.dir != nil else {
            throw ValidationError("mirror needs --dir DIR, the local directory to commit each version into.")
        }
    }

    func run() async throws {
        let source = try await global.openReadOnly()
        let mirror = StateMirror(source: source, directory: global.directory, name: global.storeName, options: global.storeOptions)
        let until = until
        try await withThrowingTaskGroup(of: Void.self) { group in
            let reached = AsyncStream<Void>.makeStream()
            group.addTask {
                try await mirror.run { event in
                    Self.print(event)
                    if let until, Self.reached(until, by: event) { reached.continuation.yield() }
                }
            }
            group.addTask {
                // Returns when --until is reached, or when the group is cancelled.
                for await _ in reached.stream { return }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private static func reached(_ version: UInt64, by event: StateMirror.Event) -> Bool {
        switch event {
        case .started(let local, _, _): local >= version
        case .mirrored(let snapshot): snapshot.version >= version
        case .committedElsewhere(let committed): committed >= version
        case .gap, .source: false
        }
    }

    private static func print(_ event: StateMirror.Event) {
        let line: JSONValue
        switch event {
        case .started(let local, let source, let created):
            line = ["event": "started", "localVersion": .unsigned(local), "sourceVersion": .unsigned(source), "created": .bool(created)]
        case .mirrored(let snapshot):
            line = ["event": "mirrored", "version": .unsigned(snapshot.version)]
        case .committedElsewhere(let version):
            line = ["event": "committedElsewhere", "version": .unsigned(version)]
        case .gap(let missing):
            line = ["event": "gap", "from": .unsigned(missing.lowerBound), "to": .unsigned(missing.upperBound)]
        case .source(let watchEvent):
            FileHandle.standardError.write(Data("statectl: etcd watch: \(describe(watchEvent))\n".utf8))
            return
        }
        Output.line(line.compactJSON)
    }

    private static func describe(_ event: WatchEvent<JSONValue>) -> String {
        switch event {
        case .snapshot(let snapshot): "version \(snapshot.version)"
        case .gap(let missing): "versions \(missing.lowerBound)-\(missing.upperBound) are no longer kept"
        case .storeReset(_, let newID): "the store was re-created (new identity \(newID))"
        case .problem(let error): error.description
        case .storeGone(let path): "\(path) is gone; waiting for it to come back"
        case .modeChanged(let mode): "watching by \(mode)"
        }
    }
}
