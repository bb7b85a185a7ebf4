/// The running half of a ``StateMirror``: what it does with each event of the source's watch.
///
/// The mirror keeps its own continuity: before committing version N it commits every version
/// between the local store's newest and N that the source still keeps (read from its history:
/// the watch may have coalesced them, or dropped them from a full queue), and reports a gap only
/// for the versions the source no longer has. Every local version it builds on that it did not
/// write itself (the newest at start, another mirror's) is compared with the source's version of
/// the same number while the source keeps it, and is never above the source's newest. Reads of
/// the source that find no member answering are tried again until they succeed: an outage is
/// waited out, not a reason to stop.
struct MirrorFollower {
    let source: ReadableStateStore<JSONValue>
    let local: StateStore<JSONValue>
    /// The local store's newest version, as this mirror knows it, and the schema it names.
    private(set) var localVersion: UInt64
    private var localSchema: String?
    /// The source was re-created: the local version is checked against the new store before
    /// anything is built on it, and a version at or below ours is a conflict, not a replay.
    private var sourceReset = false
    /// The source's kept versions, listed once when a version is found missing.
    private var kept: [UInt64]?

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
    func checkStart(here: StateSnapshot<JSONValue>, current: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        if here.version > current.version {
            throw Self.diverged(here, sourceVersion: current.version, sourceChecksum: current.checksum, path: path)
        }
        try await verify(here, sourceCopy: here.version == current.version ? current : nil, report: report)
    }

    mutating func handle(_ event: WatchEvent<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        switch event {
        case .snapshot(let snapshot):
            try await mirror(snapshot, report: report)
        case .gap(let missing):
            // Versions the watch could not deliver: the ones the source keeps are committed now
            // (the newest of them may be the last event for a while), the others reported.
            if missing.upperBound > localVersion { try await fill(before: missing.upperBound + 1, report: report) }
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
        while snapshot.version > localVersion {
            try await fill(before: snapshot.version, report: report)
            if snapshot.version > localVersion { try await commit(snapshot, report: report) }
        }
    }

    /// Commits every version from the local store's newest + 1 up to (not including) `end` that
    /// the source keeps, and reports the others as gaps.
    private mutating func fill(before end: UInt64, report: @Sendable (StateMirror.Event) -> Void) async throws {
        if sourceReset {
            // The local version came from the store before; the new one must hold it too.
            try await verify(try await local.read(), sourceCopy: nil, report: report)
            kept = nil
            sourceReset = false
        }
        var next = localVersion + 1
        while next < end {
            guard let found = try await keptVersion(next, report: report) else {
                // A version not found is looked up once in the source's list of kept versions,
                // to skip straight to the next one kept (one listing, not a read per version).
                if kept == nil {
                    kept = try await patiently(report) { try await source.historyListing().entries.map(\.version).sorted() }
                }
                let resume = kept?.first { $0 > next && $0 < end } ?? end
                report(.gap(missing: next...(resume - 1)))
                next = resume
                continue
            }
            try await commit(found, report: report)
            // After a conflict the local store may be anywhere above where it was: go on from there.
            next = localVersion + 1
        }
    }

    /// Commits `version` onto the local store's newest version, or finds the local store moved:
    /// by another mirror (whose version is compared with the source's), or by a local writer (a
    /// conflict). Returns once it committed or adopted the local store's newest version.
    private mutating func commit(_ version: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void) async throws {
        let settingsChange = try await schemaChange(for: version, report: report)
        do {
            let committed = try await local.submit(
                expecting: localVersion, commitUnchanged: true, settingsChange: settingsChange, mirroredVersion: version.version
            ) { state in state = version.state }.snapshot
            localVersion = committed.version
            localSchema = committed.settings.schema
            report(.mirrored(committed))
        } catch let error as StateStoreError where error.code == .conflict {
            let here = try await local.read()
            guard here.version > localVersion else {
                // The local store went back (re-created, restored): not the copy this mirror kept.
                throw Self.diverged(here, sourceVersion: version.version, sourceChecksum: version.checksum, path: path)
            }
            try await verify(here, sourceCopy: here.version == version.version ? version : nil, report: report)
            localVersion = here.version
            localSchema = here.settings.schema
            if here.version >= version.version { report(.committedElsewhere(version: here.version)) }
        }
    }

    /// Throws when `here`, a local version this mirror did not write, is not the source's version
    /// of that number: above the source's newest, or with another checksum while the source keeps it.
    private func verify(
        _ here: StateSnapshot<JSONValue>, sourceCopy: StateSnapshot<JSONValue>?, report: @Sendable (StateMirror.Event) -> Void
    ) async throws {
        let theirs: StateSnapshot<JSONValue>
        if let sourceCopy {
            theirs = sourceCopy
        } else if let kept = try await keptVersion(here.version, report: report) {
            theirs = kept
        } else {
            // Not kept: only a version the source never reached can be told apart.
            let newest = try await patiently(report) { try await source.read() }
            guard here.version > newest.version else { return }
            theirs = newest
        }
        guard theirs.version == here.version, theirs.checksum == here.checksum else {
            throw Self.diverged(here, sourceVersion: theirs.version, sourceChecksum: theirs.checksum, path: path)
        }
    }

    /// The source's version `version`, or nil when it does not keep it (or keeps it damaged:
    /// reported, then treated as missing, as the watch treats it).
    private func keptVersion(_ version: UInt64, report: @Sendable (StateMirror.Event) -> Void) async throws -> StateSnapshot<JSONValue>? {
        do {
            return try await patiently(report) { try await source.snapshot(atVersion: version) }
        } catch let error as StateStoreError where error.code == .notFound {
            return nil
        } catch let error as StateStoreError where error.code == .corrupt || error.code == .unverifiable {
            report(.source(.problem(error)))
            return nil
        }
    }

    /// Runs a read of the source until no `unavailable` error stops it (100 ms, doubling to 5 s
    /// between tries; the first such error is reported), or the task is cancelled.
    private func patiently<T: Sendable>(
        _ report: @Sendable (StateMirror.Event) -> Void, _ read: () async throws -> T
    ) async throws -> T {
        var pause = Duration.milliseconds(100)
        var reported = false
        while true {
            do {
                return try await read()
            } catch let error as StateStoreError where error.code == .unavailable {
                if !reported {
                    report(.source(.problem(error)))
                    reported = true
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
    }

    /// The schema change the version carries, when it names another schema than the local store's.
    private func schemaChange(
        for snapshot: StateSnapshot<JSONValue>, report: @Sendable (StateMirror.Event) -> Void
    ) async throws -> PendingUpdate<JSONValue>.SettingsChange? {
        guard snapshot.settings.schema != localSchema else { return nil }
        let schema: JSONSchema?
        if let checksum = snapshot.settings.schema {
            schema = try await patiently(report) { try await source.schema(named: checksum) }
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
