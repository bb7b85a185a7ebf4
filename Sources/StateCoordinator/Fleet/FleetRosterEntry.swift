import Foundation

/// Who a reader of a store on etcd is, kept at `readers/roster/ID` without a lease (see
/// ``EtcdStoreKeys``): what remains of a reader whose lease is gone, so that a listing can tell
/// "its host is cut off" from "never existed".
struct FleetRosterEntry: Sendable, Equatable {
    var id: String
    var label: String
    var pid: Int32
    var host: String
    var registeredAt: Double
    var connection: ReaderConnection
    /// The TTL of the lease its record is kept under, in seconds: how long its lease may be gone
    /// while its host is heard from before it is taken for dead.
    var ttl: Double = 5

    func encoded() -> [UInt8] {
        let object: JSONValue = [
            "format": 1, "id": .string(id), "label": .string(label), "pid": .int(Int64(pid)), "host": .string(host),
            "registeredAt": .double(registeredAt), "connection": .string(connection.rawValue), "ttl": .double(ttl),
        ]
        return (try? JSONWriter.write(object, pretty: false)) ?? Array("{}".utf8)
    }

    /// Nil for anything that is not an entry (a key written by something else).
    static func decode(_ bytes: [UInt8]) -> FleetRosterEntry? {
        guard bytes.count <= ReaderRecord.maximumBytes, case .object(let object)? = try? JSONValue(parsing: bytes),
            case .string(let id)? = object["id"], case .string(let label)? = object["label"],
            case .int(let pid)? = object["pid"], let pid = Int32(exactly: pid), case .string(let host)? = object["host"],
            case .string(let connection)? = object["connection"], let connection = ReaderConnection(rawValue: connection)
        else { return nil }
        let registeredAt: Double
        switch object["registeredAt"] {
        case .double(let value)?: registeredAt = value
        case .int(let value)?: registeredAt = Double(value)
        default: return nil
        }
        var entry = FleetRosterEntry(id: id, label: label, pid: pid, host: host, registeredAt: registeredAt, connection: connection)
        switch object["ttl"] {
        case .double(let ttl)? where ttl.isFinite && ttl > 0: entry.ttl = min(ttl, 3600)
        case .int(let ttl)? where ttl > 0: entry.ttl = Double(min(ttl, 3600))
        default: break
        }
        return entry
    }

    /// The reader as last known: who it is, and nothing of what it applied.
    func lastKnown() -> RegisteredReader {
        var reader = RegisteredReader(
            id: id, label: label, processID: pid, hostName: host, registeredAt: Date(timeIntervalSince1970: registeredAt),
            storeID: nil, loaded: nil, applied: nil, rejected: nil, updatedAt: Date(timeIntervalSince1970: registeredAt))
        reader.connection = connection
        return reader
    }
}

/// When a host was last heard of, at `readers/seen/HOST` (no lease), and its mirror's presence,
/// at `readers/mirror/HOST` (under the mirror's lease): the same small object.
struct FleetHostNote: Sendable, Equatable {
    var host: String
    var pid: Int32
    var at: Double
    /// A mirror's lease TTL in seconds (its presence note); nil in a host's "seen" note.
    var ttl: Double?

    func encoded() -> [UInt8] {
        var object: [JSONKey: JSONValue] = ["format": 1, "host": .string(host), "pid": .int(Int64(pid)), "at": .double(at)]
        if let ttl { object["ttl"] = .double(ttl) }
        let value = JSONValue.object(object)
        return (try? JSONWriter.write(value, pretty: false)) ?? Array("{}".utf8)
    }

    static func decode(_ bytes: [UInt8]) -> FleetHostNote? {
        guard bytes.count <= ReaderRecord.maximumBytes, case .object(let object)? = try? JSONValue(parsing: bytes),
            case .string(let host)? = object["host"], case .int(let pid)? = object["pid"], let pid = Int32(exactly: pid)
        else { return nil }
        var note: FleetHostNote
        switch object["at"] {
        case .double(let at)?: note = FleetHostNote(host: host, pid: pid, at: at)
        case .int(let at)?: note = FleetHostNote(host: host, pid: pid, at: Double(at))
        default: return nil
        }
        switch object["ttl"] {
        case .double(let ttl)? where ttl.isFinite && ttl > 0: note.ttl = min(ttl, 3600)
        case .int(let ttl)? where ttl > 0: note.ttl = Double(min(ttl, 3600))
        default: break
        }
        return note
    }
}
