/// The running half of a ``StateMirror``: what it does with each event of the source's watch.
struct MirrorFollower {
    let source: ReadableStateStore<JSONValue>
    let local: StateStore<JSONValue>
    /// The local store's newest version, as this mirror knows it, and the schema it names.
    var localVersion: UInt64
    private var localSchema: String?
    /// A version another mirror committed ahead of this one, with its checksum, to compare with
    /// the source's when the watch delivers it.
    private var unchecked: (version: UInt64, checksum: String)?
    /// The source was re-created: a version at or below ours is then a conflict, not a replay.
    private var sourceReset = false

    /// Starts from the local store's newest version, `here`; refuses a local store ahead of the
    /// source's `current` version, or at its version with other contents.
    init(
        source: ReadableStateStore<JSONValue>, local: StateStore<JSONValue>, here: StateSnapshot<JSONValue>,
        current: StateSnapshot<JSONValue>
    ) throws(StateStoreError) {
        self.source = source
        self.local = local
        localVersion = here.version
        localSchema = here.settings.schema
        if here.version > current.version || (here.version == current.version && here.checksum != current.checksum) {
            throw Self.diverged(here, sourceVersion: current.version, sourceChecksum: current.checksum, path: local.fileHandle?.stateFilePath)
        }
    }

    mutating func handle(_ event: WatchEvent<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        switch event {
        case .snapshot(let snapshot):
            try await mirror(snapshot, report: report)
        case .gap(let missing):
            report(.gap(missing: missing))
        case .storeReset:
            sourceReset = true
            report(.source(event))
        case .problem, .storeGone, .modeChanged:
            report(.source(event))
        }
    }

    private mutating func mirror(_ snapshot: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        if let unchecked, unchecked.version == snapshot.version {
            self.unchecked = nil
            guard unchecked.checksum == snapshot.checksum else {
                throw Self.diverged(try await local.read(), sourceVersion: snapshot.version, sourceChecksum: snapshot.checksum, path: local.fileHandle?.stateFilePath)
            }
        }
        guard snapshot.version > localVersion else {
            if sourceReset {
                throw StateStoreError(
                    .conflict,
                    "The source store was re-created and is now at version \(snapshot.version), not above the local store's \(localVersion): the mirror cannot keep its numbering.",
                    hint: "Stop the local bots, move the local store's files aside (NAME.json, NAME.lock, NAME.history) and start the mirror again: it re-creates the store at the source's version.",
                    path: local.fileHandle?.stateFilePath, currentVersion: localVersion)
            }
            return
        }
        sourceReset = false
        let settingsChange = try await schemaChange(for: snapshot)
        while true {
            do {
                let committed = try await local.submit(
                    expecting: localVersion, commitUnchanged: true, settingsChange: settingsChange, mirroredVersion: snapshot.version
                ) { state in state = snapshot.state }.snapshot
                localVersion = committed.version
                localSchema = committed.settings.schema
                report(.mirrored(committed))
                return
            } catch let error as StateStoreError where error.code == .conflict {
                // Another writer of the local store got there first: another mirror (then it holds
                // the source's versions), or a local writer (then it diverged).
                let here = try await local.read()
                localSchema = here.settings.schema
                if here.version < snapshot.version {
                    localVersion = here.version
                    continue
                }
                if here.version == snapshot.version {
                    guard here.checksum == snapshot.checksum else {
                        throw Self.diverged(here, sourceVersion: snapshot.version, sourceChecksum: snapshot.checksum, path: local.fileHandle?.stateFilePath)
                    }
                } else {
                    unchecked = (here.version, here.checksum)
                }
                localVersion = here.version
                report(.committedElsewhere(version: snapshot.version))
                return
            }
        }
    }

    /// The schema change the version carries, when it names another schema than the local store's.
    private func schemaChange(for snapshot: StateSnapshot<JSONValue>) async throws -> PendingUpdate<JSONValue>.SettingsChange? {
        guard snapshot.settings.schema != localSchema else { return nil }
        let schema: JSONSchema?
        if let checksum = snapshot.settings.schema {
            schema = try await source.schema(named: checksum)
        } else {
            schema = nil
        }
        return local.schemaChange(schema)
    }

    private static func diverged(
        _ here: StateSnapshot<JSONValue>, sourceVersion: UInt64, sourceChecksum: String, path: String?
    ) -> StateStoreError {
        let what =
            here.version > sourceVersion
            ? "is at version \(here.version), ahead of the source's \(sourceVersion)"
            : "holds a version \(here.version) (checksum \(here.checksum.prefix(19))) that is not the source's (checksum \(sourceChecksum.prefix(19)))"
        return StateStoreError(
            .conflict, "The local store \(what): something other than a mirror wrote it, or the source was re-created.",
            hint: "A mirrored store takes its writes at the source. Stop the local writer, move the local store's files aside "
                + "(NAME.json, NAME.lock, NAME.history) and start the mirror again: it re-creates the store at the source's version.",
            path: path, currentVersion: here.version)
    }
}
