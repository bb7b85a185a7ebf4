import Foundation
import StateCoordinator

/// A store's status as JSON: what `statectl status --json` prints, and the sidecar's `/status`
/// serves (which adds its own members).
public struct StatusDocument: Sendable {
    /// The current version.
    public var snapshot: StateSnapshot<JSONValue>
    /// Who holds the writer lock, if anyone.
    public var holder: LockHolder?
    /// How a watcher learns of commits on this store.
    public var mode: WatchMode
    /// Temp files left by writers that died.
    public var orphans: [String]
    /// Past versions kept.
    public var historyCount: Int
    /// The live registered readers.
    public var readers: [RegisteredReader]
    /// Why the registry could not be read (then `readers` is empty and says nothing).
    public var registryProblem: String?
    /// Why someone who is not a writer could hold the writer lock, or nil
    /// (``ReadableStateStore/lockFileExposure()``).
    public var lockFileWarning: String?
    /// What the registry holds beside the readers that count (``ReaderDocument/warning(_:)``), or nil.
    public var registryWarning: String?

    /// A status from its parts.
    public init(
        snapshot: StateSnapshot<JSONValue>, holder: LockHolder?, mode: WatchMode, orphans: [String], historyCount: Int,
        readers: [RegisteredReader], registryProblem: String?, lockFileWarning: String? = nil, registryWarning: String? = nil
    ) {
        self.lockFileWarning = lockFileWarning
        self.registryWarning = registryWarning
        self.snapshot = snapshot
        self.holder = holder
        self.mode = mode
        self.orphans = orphans
        self.historyCount = historyCount
        self.readers = readers
        self.registryProblem = registryProblem
    }

    /// Registered readers that have not applied the current version.
    public var laggingReaders: Int { readers.filter { ReaderDocument.lagVersions($0, snapshot) != 0 }.count }
    /// Registered readers rejecting a version newer than the one they applied.
    public var rejectingReaders: Int { readers.filter(\.isRejecting).count }

    /// The members: version, size, ageSeconds, writer, lockHolder (`pid`, `uid`, `command`),
    /// lockFileWarning, watchMode, orphanTempFiles,
    /// historyCount, historyRetention (`count`, and `seconds` or null), schema, readerUsers (uids
    /// or null), readers (`live`, `lagging`, `rejecting`, `warning`; or `problem`).
    public func json(now: Date = Date()) -> [JSONKey: JSONValue] {
        [
            "version": .unsigned(snapshot.version),
            "size": .int(Int64(snapshot.fileSize)),
            "ageSeconds": .double((now.timeIntervalSince(snapshot.committedAt) * 1000).rounded() / 1000),
            "writer": Self.json(snapshot.writer),
            "lockHolder": holder.map {
                ["pid": .int(Int64($0.pid)), "uid": $0.uid.map { .int(Int64($0)) } ?? .null, "command": $0.command.map(JSONValue.string) ?? .null]
            } ?? .null,
            "lockFileWarning": lockFileWarning.map(JSONValue.string) ?? .null,
            "watchMode": Self.json(mode),
            "orphanTempFiles": .array(orphans.map(JSONValue.string)),
            "historyCount": .int(Int64(historyCount)),
            "historyRetention": [
                "count": .int(Int64(snapshot.settings.keepHistory)),
                "seconds": snapshot.settings.keepHistoryFor.map { .int($0.components.seconds) } ?? .null,
            ],
            "schema": snapshot.settings.schema.map(JSONValue.string) ?? .null,
            "readerUsers": snapshot.settings.readerUsers.map { .array($0.map { .int(Int64($0)) }) } ?? .null,
            "readers": registryProblem.map { ["problem": .string($0)] }
                ?? [
                    "live": .int(Int64(readers.count)), "lagging": .int(Int64(laggingReaders)), "rejecting": .int(Int64(rejectingReaders)),
                    "warning": registryWarning.map(JSONValue.string) ?? .null,
                ],
        ]
    }

    /// A writer as `{"pid", "host", "label"}`.
    public static func json(_ writer: WriterIdentity) -> JSONValue {
        ["pid": .int(Int64(writer.pid)), "host": .string(writer.host), "label": .string(writer.label)]
    }

    /// A watch mode as `{"mode": "inotify" | "polling" | "closed" | "etcd", "reason"}` (and the
    /// member watched, `endpoint`, for etcd).
    public static func json(_ mode: WatchMode) -> JSONValue {
        switch mode {
        case .inotify: ["mode": "inotify", "reason": nil]
        case .polling(let reason): ["mode": "polling", "reason": .string(reason)]
        case .closed: ["mode": "closed", "reason": nil]
        case .etcd(let endpoint): ["mode": "etcd", "reason": nil, "endpoint": .string(endpoint)]
        }
    }
}
