import Foundation
import StateCoordinator

/// One registered reader as `/readers` lists it (the members of `statectl readers --json`).
enum ReaderDocument {
    static func json(_ reader: RegisteredReader, current: StateSnapshot<JSONValue>) -> JSONValue {
        [
            "id": .string(reader.id), "label": .string(reader.label), "pid": .int(Int64(reader.processID)),
            "host": .string(reader.hostName), "registeredAt": .double(reader.registeredAt.timeIntervalSince1970),
            "loadedVersion": reader.loaded.map { .int(Int64($0.version)) } ?? .null,
            "appliedVersion": reader.applied.map { .int(Int64($0.version)) } ?? .null,
            "lagVersions": StoreMonitor.lag(reader, current).map { .int(Int64($0)) } ?? .null,
            "rejectedVersion": reader.rejected.map { .int(Int64($0.version)) } ?? .null,
            "rejectedError": reader.rejected.map { .string($0.error) } ?? .null,
        ]
    }
}
