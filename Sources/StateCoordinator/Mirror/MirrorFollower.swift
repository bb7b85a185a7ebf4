/// The running half of a ``StateMirror``: what it does with each event of the source's watch.
///
/// The mirror keeps its own continuity: before committing version N it commits every version
/// between the local store's newest and N that the source still keeps (read from its history:
/// the watch may have coalesced them, or dropped them from a full queue), and reports a gap only
/// for the versions the source no longer has. Every local version it builds on that it did not
/// write itself (the newest at start, another mirror's) is compared with the source's version of
/// the same number while the source keeps it.
struct MirrorFollower {
    let source: ReadableStateStore<JSONValue>
    let local: StateStore<JSONValue>
    /// The local store's newest version, as this mirror knows it, and the schema it names.
    private(set) var localVersion: UInt64
    private var localSchema: String?
    /// The source was re-created: a version at or below ours is then a conflict, not a replay.
    private var sourceReset = false

    private var path: String? { local.fileHandle?.stateFilePath }

    /// Starts from the local store's newest version, `here`.
    init(source: ReadableStateStore<JSONValue>, local: StateStore<JSONValue>, here: StateSnapshot<JSONValue>) {
        self.source = source
        self.local = local
        localVersion = here.version
        localSchema = here.settings.schema
    }

    /// Refuses a local store that is not a copy of the source's versions: ahead of `current`, or a
    /// newest version whose checksum differs from the source's version of that number (while the
    /// source keeps it: one it no longer keeps cannot be compared, and is trusted).
    func checkStart(here: StateSnapshot<JSONValue>, current: StateSnapshot<JSONValue>) async throws {
        if here.version > current.version {
            throw Self.diverged(here, sourceVersion: current.version, sourceChecksum: current.checksum, path: path)
        }
        try await verify(here, sourceCopy: here.version == current.version ? current : nil)
    }

    mutating func handle(_ event: WatchEvent<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        switch event {
        case .snapshot(let snapshot):
            try await mirror(snapshot, report: report)
        case .gap:
            // Filled (or reported) from the source's history before the next version is committed.
            break
        case .storeReset:
            sourceReset = true
            report(.source(event))
        case .problem, .storeGone, .modeChanged:
            report(.source(event))
        }
    }

    private mutating func mirror(_ snapshot: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        guard snapshot.version > localVersion else {
            if sourceReset {
                throw StateStoreError(
                    .conflict,
                    "The source store was re-created and is now at version \(snapshot.version), not above the local store's \(localVersion): the mirror cannot keep its numbering.",
                    hint: "Stop the local bots, move the local store's files aside (NAME.json, NAME.lock, NAME.history) and start the mirror again: it re-creates the store at the source's version.",
                    path: path, currentVersion: localVersion)
            }
            return
        }
        sourceReset = false
        // The versions in between, while the source keeps them; a gap for the ones it does not.
        // A version not found is looked up once in the source's list of kept versions, to skip
        // straight to the next one kept (a long outage is one listing, not a read per version).
        var kept: [UInt64]?
        var next = localVersion + 1
        while next < snapshot.version {
            guard let found = try await keptVersion(next) else {
                if kept == nil { kept = try await source.historyListing().entries.map(\.version).sorted() }
                let resume = kept?.first { $0 > next && $0 < snapshot.version } ?? snapshot.version
                report(.gap(missing: next...(resume - 1)))
                next = resume
                continue
            }
            try await commit(found, report: report)
            next = max(next, localVersion) + 1
        }
        if snapshot.version > localVersion { try await commit(snapshot, report: report) }
    }

    /// Commits `version` onto the local store's newest version, or finds it there: written by
    /// another mirror (compared with the source's), or by a local writer (a conflict).
    private mutating func commit(_ version: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        while version.version > localVersion {
            let settingsChange = try await schemaChange(for: version)
            do {
                let committed = try await local.submit(
                    expecting: localVersion, commitUnchanged: true, settingsChange: settingsChange, mirroredVersion: version.version
                ) { state in state = version.state }.snapshot
                localVersion = committed.version
                localSchema = committed.settings.schema
                report(.mirrored(committed))
            } catch let error as StateStoreError where error.code == .conflict {
                // Another writer of the local store got there first: another mirror (then it holds
                // the source's versions), or a local writer (then it diverged).
                let here = try await local.read()
                try await verify(here, sourceCopy: here.version == version.version ? version : nil)
                localVersion = here.version
                localSchema = here.settings.schema
                if here.version >= version.version { report(.committedElsewhere(version: here.version)) }
            }
        }
    }

    /// Throws when `here`, a local version this mirror did not write, is not the source's version
    /// of that number (compared by checksum while the source keeps it).
    private func verify(_ here: StateSnapshot<JSONValue>, sourceCopy: StateSnapshot<JSONValue>?) async throws {
        let theirs: StateSnapshot<JSONValue>
        if let sourceCopy {
            theirs = sourceCopy
        } else {
            guard let kept = try await keptVersion(here.version) else { return }
            theirs = kept
        }
        guard theirs.checksum == here.checksum else {
            throw Self.diverged(here, sourceVersion: theirs.version, sourceChecksum: theirs.checksum, path: path)
        }
    }

    /// The source's version `version`, or nil when it no longer keeps it.
    private func keptVersion(_ version: UInt64) async throws(StateStoreError) -> StateSnapshot<JSONValue>? {
        do {
            return try await source.snapshot(atVersion: version)
        } catch {
            if error.code == .notFound { return nil }
            throw error
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
                + "(NAME.json, NAME.lock, NAME.history and any NAME.history.replaced-*) and start the mirror again: it re-creates the store at the source's version.",
            path: path, currentVersion: here.version)
    }
}
