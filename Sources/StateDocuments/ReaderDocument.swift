import Foundation
import StateCoordinator

/// One registered reader as JSON, as `statectl readers --json` prints it and the sidecar's
/// `/readers` serves it.
public enum ReaderDocument {
    /// The reader's record, plus, given `current`, its lag behind it: versions (null when it
    /// applied nothing of this store identity) and seconds (`lagSeconds`).
    public static func json(_ reader: RegisteredReader, current: StateSnapshot<JSONValue>? = nil, lagSeconds: Double? = nil) -> JSONValue {
        var object: [JSONKey: JSONValue] = [
            "id": .string(reader.id),
            "label": .string(reader.label),
            "owner": reader.owner.map { .int(Int64($0)) } ?? .null,
            "user": reader.ownerName.map(JSONValue.string) ?? .null,
            "pid": .int(Int64(reader.processID)),
            "host": .string(reader.hostName),
            "registeredAt": .string(DocumentTime.timestamp(reader.registeredAt)),
            "storeID": reader.storeID.map(JSONValue.string) ?? .null,
            "loadedVersion": reader.loaded.map { .unsigned($0.version) } ?? .null,
            "appliedVersion": reader.applied.map { .unsigned($0.version) } ?? .null,
            "appliedAt": reader.applied.map { .string(DocumentTime.timestamp($0.at)) } ?? .null,
            "rejectedVersion": reader.rejected.map { .unsigned($0.version) } ?? .null,
            "rejectedError": reader.rejected.map { .string($0.error) } ?? .null,
            "problem": reader.problem.map(JSONValue.string) ?? .null,
            "connection": .string(reader.connection.rawValue),
        ]
        if let current {
            object["lagVersions"] = lagVersions(reader, current).map { .unsigned($0) } ?? .null
            object["lagSeconds"] = lagSeconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null
        }
        return .object(object)
    }

    /// The readers with their lag in versions and seconds, from the history kept.
    public static func json(_ readers: [RegisteredReader], current: StateSnapshot<JSONValue>, history: [HistoryEntry], now: Date = Date()) -> JSONValue {
        .array(readers.map { json($0, current: current, lagSeconds: lagSeconds($0, current: current, history: history, now: now)?.seconds) })
    }

    /// A whole registry listing: `{"readers", "notCounted", "invalid", "entryCount", "considered",
    /// "complete", "warning"}` (`statectl readers --all --json`, the sidecar's `/readers?all`).
    public static func json(_ listing: ReaderListing, current: StateSnapshot<JSONValue>, history: [HistoryEntry], now: Date = Date()) -> JSONValue {
        [
            "readers": json(listing.readers, current: current, history: history, now: now),
            "notCounted": json(listing.notCounted, current: current, history: history, now: now),
            "invalid": .array(
                listing.invalid.map {
                    ["id": .string($0.id), "owner": $0.owner.map { .int(Int64($0)) } ?? .null, "reason": .string($0.reason)]
                }),
            "entryCount": .int(Int64(listing.entryCount)),
            "considered": .int(Int64(listing.considered)),
            "complete": .bool(listing.isComplete),
            "warning": warning(listing).map(JSONValue.string) ?? .null,
            "unreachableHosts": json(listing.unreachableHosts),
            "leaseLost": json(listing.leaseLost, current: current, history: history, now: now),
        ]
    }

    /// Hosts whose readers' state is unknown (a store on etcd): `[{"host", "lastHeard",
    /// "mirror", "summary", "readers"}]`.
    public static func json(_ hosts: [UnreachableHost]) -> JSONValue {
        .array(
            hosts.map { host in
                [
                    "host": .string(host.hostName),
                    "lastHeard": host.lastHeard.map { .string(DocumentTime.timestamp($0)) } ?? .null,
                    "mirror": .bool(host.hasMirror),
                    "summary": .string(host.summary),
                    "readers": .array(host.readers.map { json($0) }),
                ]
            })
    }

    /// What an operator should know of a listing beyond its readers, in one line; nil when
    /// there is nothing: entries not looked at, invalid entries, readers not counted.
    public static func warning(_ listing: ReaderListing) -> String? {
        var parts: [String] = []
        if let incompleteness = listing.incompleteness { parts.append(incompleteness) }
        if !listing.invalid.isEmpty {
            let owners = Set(listing.invalid.compactMap(\.owner)).sorted().map { "uid \($0)" }
            parts.append(
                "\(listing.invalid.count) registry entr\(listing.invalid.count == 1 ? "y is" : "ies are") no reader's"
                    + (owners.isEmpty ? "" : " (files of \(owners.prefix(5).joined(separator: ", ")))")
                    + ": \(TerminalText.safe(listing.invalid[0].reason))")
        }
        if !listing.notCounted.isEmpty {
            let names = listing.notCounted.prefix(5).map { "\(TerminalText.safe($0.qualifiedLabel)) (pid \($0.processID))" }
            parts.append(
                "\(listing.notCounted.count) live reader\(listing.notCounted.count == 1 ? " is" : "s are") not counted, "
                    + "run by users the store's reader users do not name: \(names.joined(separator: ", "))")
        }
        for host in listing.unreachableHosts { parts.append(host.summary) }
        if !listing.leaseLost.isEmpty {
            let names = listing.leaseLost.prefix(5).map { "\(TerminalText.safe($0.label)) (pid \($0.processID) on \(TerminalText.safe($0.hostName)))" }
            parts.append(
                "\(listing.leaseLost.count) reader\(listing.leaseLost.count == 1 ? "'s lease is" : "s' leases are") gone while their host is heard from "
                    + "(dead, most likely; forgotten after their lease's TTL): \(names.joined(separator: ", "))")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// How many versions `reader` is behind; nil when it applied nothing of this store identity.
    public static func lagVersions(_ reader: RegisteredReader, _ current: StateSnapshot<JSONValue>) -> UInt64? {
        guard reader.storeID == current.storeID, let applied = reader.applied?.version else { return nil }
        return current.version > applied ? current.version - applied : 0
    }

    /// Seconds since the first version `reader` has not applied was committed: 0 when it is up
    /// to date; nil when it applied nothing of this store identity. `atLeast` when that version
    /// is no longer kept, so that only a lower bound is known.
    public static func lagSeconds(
        _ reader: RegisteredReader, current: StateSnapshot<JSONValue>, history: [HistoryEntry], now: Date
    ) -> (seconds: Double, atLeast: Bool)? {
        guard let behind = lagVersions(reader, current), let applied = reader.applied?.version else { return nil }
        if behind == 0 { return (0, false) }
        if let next = history.filter({ $0.version > applied }).min(by: { $0.version < $1.version }) {
            return (max(0, now.timeIntervalSince(next.committedAt)), next.version != applied + 1)
        }
        return (max(0, now.timeIntervalSince(current.committedAt)), behind > 1)
    }
}
