import Foundation

/// What a store's reader registry on etcd says (``EtcdStoreKeys`` `readers/`), held as its keys
/// and turned into readers: live ones (a record under a live lease), dead ones (a roster entry
/// whose lease is gone while its host is heard from) and unknown ones (a roster entry whose host
/// has nothing live: its mirror, or every direct reader there, lost its lease). Pure: a listing
/// builds it from one range read, a wait keeps it current from a watch of the prefix.
struct FleetView: Sendable {
    let keys: EtcdStoreKeys
    private(set) var live: [String: ReaderRecord] = [:]
    private(set) var roster: [String: FleetRosterEntry] = [:]
    /// Mirrors present (under their lease), by key-safe host name.
    private(set) var mirrors: [String: FleetHostNote] = [:]
    /// When each host was last heard of, by key-safe host name.
    private(set) var seen: [String: FleetHostNote] = [:]
    /// Keys under the prefix that are no registry entry (unreadable, or an ID that does not match).
    private(set) var invalid: [String: String] = [:]

    init(keys: EtcdStoreKeys) { self.keys = keys }

    /// Takes one key's new value (nil: deleted).
    mutating func apply(key: [UInt8], value: [UInt8]?) {
        guard let (kind, name) = keys.registryKey(key) else { return }
        let path = String(decoding: key, as: UTF8.self)
        invalid[path] = nil
        switch kind {
        case .live:
            live[name] = nil
            guard let value else { return }
            guard var record = ReaderRecord.decode(value), record.id == name else {
                invalid[path] = "not a reader record of entry \(name)"
                return
            }
            if record.connection == nil { record.connection = .direct }
            live[name] = record
        case .roster:
            roster[name] = nil
            guard let value else { return }
            guard let entry = FleetRosterEntry.decode(value), entry.id == name else {
                invalid[path] = "not a roster entry of reader \(name)"
                return
            }
            roster[name] = entry
        case .mirror:
            mirrors[name] = value.flatMap(FleetHostNote.decode)
        case .seen:
            seen[name] = value.flatMap(FleetHostNote.decode)
        }
    }

    /// One reader as the registry says now.
    enum ReaderState: Sendable, Equatable {
        /// Its record is under a live lease.
        case live(RegisteredReader)
        /// Its lease is gone and its host is heard from: it died (or closed without removing its entry).
        case died(RegisteredReader)
        /// Its lease is gone and nothing on its host is live: cut off, or gone; nobody can tell.
        case unknown(RegisteredReader)
    }

    /// Reader `id`'s state; nil when the registry no longer knows it at all (it closed).
    func state(of id: String) -> ReaderState? {
        if let record = live[id] { return .live(reader(id, record)) }
        guard let entry = roster[id] else { return nil }
        return isReachable(entry) ? .died(entry.lastKnown()) : .unknown(entry.lastKnown())
    }

    private func reader(_ id: String, _ record: ReaderRecord) -> RegisteredReader {
        record.reader(id: id)
    }

    /// Whether anything that vouches for `entry`'s liveness is live: its host's mirror for a
    /// reader behind it; for a direct reader, the mirror or any other direct reader on its host.
    func isReachable(_ entry: FleetRosterEntry) -> Bool {
        let host = EtcdStoreKeys.keySafe(entry.host)
        if mirrors[host] != nil { return true }
        guard entry.connection == .direct else { return false }
        return live.values.contains { $0.connection == .direct && EtcdStoreKeys.keySafe($0.host) == host }
    }

    /// Every reader the registry knows, in registration order.
    var allIDs: [String] {
        Set(live.keys).union(roster.keys).sorted { lhs, rhs in
            let a = live[lhs]?.registeredAt ?? roster[lhs]?.registeredAt ?? 0
            let b = live[rhs]?.registeredAt ?? roster[rhs]?.registeredAt ?? 0
            return (a, lhs) < (b, rhs)
        }
    }

    /// The listing: live readers, hosts whose readers are unknown, and the dead readers' IDs
    /// (whose roster entries a writer may remove).
    func listing() -> (listing: ReaderListing, dead: [String]) {
        var listing = ReaderListing()
        var dead: [String] = []
        var unknownByHost: [String: [RegisteredReader]] = [:]
        for id in allIDs {
            switch state(of: id) {
            case .live(let reader)?: listing.readers.append(reader)
            case .died?: dead.append(id)
            case .unknown(let reader)?: unknownByHost[reader.hostName, default: []].append(reader)
            case nil: break
            }
        }
        listing.unreachableHosts = unknownByHost.keys.sorted().map { host in
            unreachableHost(host, readers: unknownByHost[host]!)
        }
        listing.invalid = invalid.keys.sorted().map { InvalidReaderEntry(id: $0, owner: nil, reason: invalid[$0]!) }
        listing.entryCount = live.count + roster.count
        listing.considered = listing.entryCount
        return (listing, dead)
    }

    /// `host`'s description with `readers`, the last time it was heard of from its notes.
    func unreachableHost(_ host: String, readers: [RegisteredReader]) -> UnreachableHost {
        let note = seen[EtcdStoreKeys.keySafe(host)]
        return UnreachableHost(
            hostName: host, lastHeard: note.map { Date(timeIntervalSince1970: $0.at) },
            hasMirror: readers.contains { $0.connection == .mirror }, readers: readers)
    }
}
