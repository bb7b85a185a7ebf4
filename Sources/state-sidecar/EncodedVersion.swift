import Foundation
import Hummingbird
import StateCoordinator

/// One version as an SSE `version` event, encoded once and shared by every stream that writes it.
struct EncodedVersion: Sendable {
    let version: UInt64
    let storeID: String
    /// `id: VERSION`, `event: version` and the data line, with the blank line ending the event.
    let event: ByteBuffer

    /// - Parameter arrived: whether the version arrived while the sidecar watched (then the event
    ///   carries its delay from the rename); false for the version current when the watch began.
    init(_ snapshot: StateSnapshot<JSONValue>, arrived: Bool = true) {
        let replacedAt = arrived ? snapshot.replacedAt : nil
        version = snapshot.version
        storeID = snapshot.storeID
        let data: JSONValue = [
            "version": .unsigned(snapshot.version),
            "committedAt": .string(snapshot.committedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "writer": ["pid": .int(Int64(snapshot.writer.pid)), "host": .string(snapshot.writer.host), "label": .string(snapshot.writer.label)],
            "storeID": .string(snapshot.storeID),
            "replacedAt": snapshot.replacedAt.map { .double($0.timeIntervalSince1970) } ?? .null,
            "propagationSeconds": replacedAt.map { .double(max(0, snapshot.loadedAt.timeIntervalSince($0))) } ?? .null,
            "state": snapshot.state,
        ]
        event = ByteBuffer(string: "id: \(snapshot.version)\nevent: version\ndata: \(data.compactJSON)\n\n")
    }

    /// `event: gap` naming versions the client will not get.
    static func gap(_ missing: ClosedRange<UInt64>) -> ByteBuffer {
        ByteBuffer(string: "event: gap\ndata: {\"from\":\(missing.lowerBound),\"to\":\(missing.upperBound)}\n\n")
    }

    /// `event: reset`: the store was re-created, version numbers restart from the next event's.
    static func reset(from previous: String?, to new: String) -> ByteBuffer {
        let data: JSONValue = ["previousID": previous.map(JSONValue.string) ?? .null, "storeID": .string(new)]
        return ByteBuffer(string: "event: reset\ndata: \(data.compactJSON)\n\n")
    }
}
