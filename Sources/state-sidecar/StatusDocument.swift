import Foundation
import StateCoordinator

/// The JSON of `/status`: the members `statectl status --json` prints.
enum StatusDocument {
    static func json(_ observation: StoreMonitor.Observation, name: String) -> JSONValue {
        let snapshot = observation.snapshot
        let lagging = observation.readers.filter { StoreMonitor.lag($0, snapshot) != 0 }.count
        let rejecting = observation.readers.filter(\.isRejecting).count
        let mode: JSONValue =
            switch observation.mode {
            case .inotify: ["mode": "inotify", "reason": nil]
            case .polling(let reason): ["mode": "polling", "reason": .string(reason)]
            case .closed: ["mode": "closed", "reason": nil]
            }
        return [
            "store": .string(name),
            "version": .int(Int64(snapshot.version)),
            "size": .int(Int64(snapshot.fileSize)),
            "ageSeconds": .double((Date().timeIntervalSince(snapshot.committedAt) * 1000).rounded() / 1000),
            "writer": ["pid": .int(Int64(snapshot.writer.pid)), "host": .string(snapshot.writer.host), "label": .string(snapshot.writer.label)],
            "lockHolder": observation.holder.map { ["pid": .int(Int64($0.pid)), "command": $0.command.map(JSONValue.string) ?? .null] } ?? .null,
            "watchMode": mode,
            "orphanTempFiles": .array(observation.orphans.map(JSONValue.string)),
            "historyCount": .int(Int64(observation.historyCount)),
            "schema": snapshot.settings.schema.map(JSONValue.string) ?? .null,
            "readers": observation.registryProblem.map { ["problem": .string($0)] }
                ?? ["live": .int(Int64(observation.readers.count)), "lagging": .int(Int64(lagging)), "rejecting": .int(Int64(rejecting))],
            "verified": .bool(observation.verified == nil),
            "problem": observation.verified.map { .string($0.description) } ?? .null,
        ]
    }
}
