import Foundation

/// Follows a store (typically one on etcd) and commits each of its versions into a store in a
/// local directory with **the same version number**, through the ordinary writer path, so that a
/// host's existing bots keep reading a local file: inotify, read-ahead, the local reader
/// registry, the Python package.
///
/// ```swift
/// let source = try await ReadOnlyStateStore<JSONValue>(etcd: EtcdConfiguration(endpoints: ["https://etcd-1:2379"]), name: "risk")
/// let mirror = StateMirror(source: source, directory: "/srv/bot", name: "risk")
/// try await mirror.run { event in print(event) }  // until cancelled
/// ```
///
/// - A mirror never writes to its source's state: it only reads and watches it. On etcd it
///   writes one thing there, its host's readers (its registry publisher): each live local
///   reader's record under the mirror's lease, so that a writer's acknowledgement wait counts
///   the host's bots (<doc:FleetAcrossHosts>).
/// - Each version is committed under the local writer lock only on top of the version before it
///   (compare-and-swap), as exactly the source's version number. Two mirrors of one directory
///   serialize on that lock: the second finds the version there with the same checksum and writes
///   nothing. A version in the local store that the source does not have (a local writer) stops
///   the mirror with a `conflict` error: a mirrored store takes its writes at the source.
/// - The local store is created at the source's current version when it does not exist (with the
///   source's history depth, size limit, file mode and schema). Versions the source no longer
///   keeps when the mirror catches up after an outage are reported as ``Event/gap(missing:)`` and
///   skipped: the local store jumps to the next version there is, and its own watchers report the
///   same gap.
/// - Schema changes are carried over with the version that made them; other settings of the
///   local store stay its own.
public struct StateMirror: Sendable {
    /// What a running mirror reports.
    public enum Event: Sendable {
        /// The mirror started: the local store's version, the source's, and whether the local
        /// store was created now (at the source's version).
        case started(localVersion: UInt64, sourceVersion: UInt64, created: Bool)
        /// A version committed into the local store (the local snapshot: same version and state
        /// as the source's).
        case mirrored(StateSnapshot<JSONValue>)
        /// The local store is at `version`, committed by another mirror of the same directory
        /// first (compared with the source's version while the source keeps it).
        case committedElsewhere(version: UInt64)
        /// Versions of the source that could not be read (no longer in its history): the local
        /// store goes from the version before them to the one after.
        case gap(missing: ClosedRange<UInt64>)
        /// Something the source's watch reported (a problem, a change of mode, the source gone or
        /// re-created); the mirror goes on.
        case source(WatchEvent<JSONValue>)
    }

    /// The store followed.
    public let source: ReadableStateStore<JSONValue>
    /// The local store's directory.
    public let directory: String
    /// The store's name, in the directory (and, for `statectl mirror`, on etcd).
    public let name: String
    /// The local store's options (durability, label, lock timeout).
    public let options: StateStore<JSONValue>.Options

    /// A mirror of `source` into the store `name` in `directory` (created when absent).
    public init(
        source: ReadableStateStore<JSONValue>, directory: String, name: String = "state",
        options: StateStore<JSONValue>.Options = StateStore<JSONValue>.Options()
    ) {
        self.source = source
        self.directory = directory
        self.name = name
        self.options = options
    }

    /// Mirrors until cancelled (then returns) or until the local store cannot follow (then throws).
    ///
    /// - Parameter report: called with each event, in order, from the mirror's task.
    /// - Throws: a ``StateStoreError``: `conflict` when the local store holds a version the source
    ///   does not (written locally, or the source was re-created below it); the source's errors
    ///   (`unavailable` only if the first read fails: later outages are waited out); the local
    ///   store's errors (`noSpace`, `lockTimeout`, ...). Nothing committed locally is ever undone.
    public func run(_ report: @escaping @Sendable (Event) -> Void) async throws {
        try checkNotItself()
        var current = try await source.read()
        let (local, created) = try await openLocal(startingFrom: current)
        let here = try await local.read()
        // Another mirror of the directory may have committed a newer version since our read.
        if here.version > current.version { current = try await source.read() }
        var follower = MirrorFollower(source: source, local: local, here: here)
        try await follower.checkStart(here: here, current: current, report: report)
        report(.started(localVersion: follower.localVersion, sourceVersion: current.version, created: created))
        let publisher = registryPublisher(local: local, localStoreID: here.storeID, source: current)
        publisher?.start()
        do {
            let events = StateObservation(.after(follower.localVersion)).events(in: source)
            for await event in events {
                if case .snapshot(let snapshot) = event { publisher?.noteSource(storeID: snapshot.storeID) }
                try await follower.handle(event, report: report)
            }
        } catch {
            await publisher?.stop()
            throw error
        }
        await publisher?.stop()
    }

    /// For a source on etcd, the publisher of this host's local reader registry to the source's
    /// (<doc:FleetAcrossHosts>); nil for any other source.
    private func registryPublisher(
        local: StateStore<JSONValue>, localStoreID: String, source current: StateSnapshot<JSONValue>
    ) -> MirrorRegistryPublisher? {
        guard case .etcd(let access) = source.place, let handle = local.fileHandle else { return nil }
        return MirrorRegistryPublisher(
            access: access, local: handle, localStoreID: localStoreID, sourceStoreID: current.storeID,
            readerUsers: current.settings.readerUsers.map(Set.init))
    }

    /// A mirror of a store into itself would commit each version on top of itself.
    private func checkNotItself() throws(StateStoreError) {
        guard let handle = source.fileHandle else { return }
        let sourceDirectory = URL(fileURLWithPath: handle.directory).standardizedFileURL.path
        let localDirectory = URL(fileURLWithPath: directory).standardizedFileURL.path
        if sourceDirectory == localDirectory, handle.files.name == name {
            throw StateStoreError(
                .invalidArgument, "A mirror of \(handle.stateFilePath) into itself would follow its own commits.",
                hint: "Mirror into another directory or another store name.", path: handle.stateFilePath)
        }
    }

    /// Opens the local store, creating it at the source's version (decided under the local
    /// writer lock, so that two mirrors starting at once create it once).
    private func openLocal(startingFrom current: StateSnapshot<JSONValue>) async throws -> (StateStore<JSONValue>, Bool) {
        var settings = StoreSettings(
            keepHistory: current.settings.keepHistory, keepHistoryFor: current.settings.keepHistoryFor,
            maximumStateBytes: current.settings.maximumStateBytes, fileMode: current.settings.fileMode)
        if let checksum = current.settings.schema {
            let schema = try await source.schema(named: checksum)
            settings.schema = schema.checksum
            settings.schemaDocument = schema
        }
        let (directory, name, options, settingsToCreate) = (directory, name, options, settings)
        let handle = try await BlockingWorkThread.runOnce("StateCoordinator.mirror") { () throws(StateStoreError) in
            try StoreCreation.mirrorDestination(
                directory: directory, name: name, settings: settingsToCreate, state: current.state, version: current.version, options: options)
        }
        return (StateStore(writing: handle.handle), handle.created)
    }
}
