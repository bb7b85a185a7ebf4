import Foundation
import StateCoordinator
import StateDocuments

/// What statectl writes to stdout: results only, one write per line so that watchers see each
/// line at once.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// `statectl: TEXT` on stderr: a diagnostic line beside a result.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("statectl: \(text)\n".utf8))
    }

    /// `{"version", "committedAt", "writer": {"pid", "host", "label"}, "checksum", "size"}`.
    static func meta(_ snapshot: StateSnapshot<JSONValue>) -> JSONValue {
        [
            "version": .unsigned(snapshot.version),
            "committedAt": .string(timestamp(snapshot.committedAt)),
            "writer": writer(snapshot.writer),
            "checksum": .string(snapshot.checksum),
            "size": .int(Int64(snapshot.fileSize)),
        ]
    }

    static func writer(_ writer: WriterIdentity) -> JSONValue { StatusDocument.json(writer) }

    static func timestamp(_ date: Date) -> String { DocumentTime.timestamp(date) }

    /// An RFC 6902 JSON Patch as JSON.
    static func patch(_ operations: [JSONPatch.Operation]) -> JSONValue {
        .array(operations.map(\.json))
    }

    /// What every mutating command prints: the version alone, or with --json the meta object.
    static func committed(_ snapshot: StateSnapshot<JSONValue>, json: Bool) {
        line(json ? meta(snapshot).prettyJSON : String(snapshot.version))
    }
}
