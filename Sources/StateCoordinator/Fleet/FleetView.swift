import Foundation

/// What a store's reader registry on etcd says (``EtcdStoreKeys`` `readers/`), held as its keys
/// and turned into readers: live ones (a record under a live lease) and unknown ones (a roster
/// entry whose lease is gone; see ``ReaderState``). Pure: a listing
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

    /// The most keys one read of the registry takes (four per reader at most: live, roster, and
    /// its host's notes).
    static let maximumKeys = 16_384
    /// Set when the read stopped at ``maximumKeys``: how many keys the registry holds.
    var truncatedAt: Int?

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
            guard value.count <= ReaderRecord.maximumBytes, var record = ReaderRecord.decode(value), record.id == name else {
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
        /// Its lease is gone and its roster entry is left. `hostHeard`: something on its host
        /// still vouches for the host's link (its mirror, or another direct reader there): the
        /// reader is probably dead, and is taken for dead once that has held for its lease's TTL
        /// (``FleetTally``, ``EtcdLeasedKeys``'s tidying); leases of one cut-off host lapse at
        /// different instants, so "heard from" alone proves nothing. Without it, the host is
        /// unreachable: cut off, or gone; nobody can tell.
        case unknown(RegisteredReader, hostHeard: Bool)
    }

    /// Reader `id`'s state; nil when the registry no longer knows it at all (it closed, or was
    /// found dead and removed).
    func state(of id: String) -> ReaderState? {
        if let record = live[id] { return .live(record.reader(id: id)) }
        guard let entry = roster[id] else { return nil }
        return .unknown(entry.lastKnown(), hostHeard: isVouched(entry))
    }

    /// Whether anything that vouches for `entry`'s host link is live: its host's mirror for a
    /// reader behind it; for a direct reader, the mirror or any other direct reader on its host.
    func isVouched(_ entry: FleetRosterEntry) -> Bool {
        let host = EtcdStoreKeys.keySafe(entry.host)
        if mirrors[host] != nil { return true }
        guard entry.connection == .direct else { return false }
        return live.values.contains { $0.connection == .direct && EtcdStoreKeys.keySafe($0.host) == host }
    }

    /// How long reader `id`'s host must be heard from, after its lease went, before it is taken
    /// for dead: the longest lease TTL on its host (its own, its mirror's, the other readers'):
    /// when the host is cut off, the longest-lived voucher there may still count down that long.
    func leaseTTL(of id: String) -> Duration {
        guard let entry = roster[id] else { return .seconds(5) }
        let host = EtcdStoreKeys.keySafe(entry.host)
        var longest = entry.ttl
        for other in roster.values where EtcdStoreKeys.keySafe(other.host) == host { longest = max(longest, other.ttl) }
        if let mirror = mirrors[host]?.ttl { longest = max(longest, mirror) }
        return .milliseconds(Int64(longest * 1000))
    }

    /// Every reader the registry knows, in registration order.
    var allIDs: [String] {
        Set(live.keys).union(roster.keys).sorted { lhs, rhs in
            let a = live[lhs]?.registeredAt ?? roster[lhs]?.registeredAt ?? 0
            let b = live[rhs]?.registeredAt ?? roster[rhs]?.registeredAt ?? 0
            return (a, lhs) < (b, rhs)
        }
    }

    /// The listing: live readers, readers whose lease is gone while their host is heard from,
    /// and hosts whose readers are unknown.
    func listing() -> ReaderListing {
        var listing = ReaderListing()
        var unknownByHost: [String: [RegisteredReader]] = [:]
        for id in allIDs {
            switch state(of: id) {
            case .live(let reader)?: listing.readers.append(reader)
            case .unknown(let reader, hostHeard: true)?: listing.leaseLost.append(reader)
            case .unknown(let reader, hostHeard: false)?: unknownByHost[reader.hostName, default: []].append(reader)
            case nil: break
            }
        }
        listing.unreachableHosts = unknownByHost.keys.sorted().map { host in
            unreachableHost(host, readers: unknownByHost[host]!)
        }
        listing.invalid = invalid.keys.sorted().map { InvalidReaderEntry(id: $0, owner: nil, reason: invalid[$0]!) }
        listing.considered = live.count + roster.count
        listing.entryCount = listing.considered
        if let truncatedAt {
            // Not every reader was seen: the listing is not complete, and a wait for all says so.
            listing.entryCount = max(listing.considered + 1, truncatedAt)
        }
        return listing
    }

    /// `host`'s description with `readers`, the last time it was heard of from its notes, and
    /// whether anything there still vouches for it.
    func unreachableHost(_ host: String, readers: [RegisteredReader]) -> UnreachableHost {
        let note = seen[EtcdStoreKeys.keySafe(host)]
        var described = UnreachableHost(
            hostName: host, lastHeard: note.map { Date(timeIntervalSince1970: $0.at) },
            hasMirror: readers.contains { $0.connection == .mirror }, readers: readers)
        described.heardFrom = readers.contains { reader in roster[reader.id].map(isVouched) ?? false }
        return described
    }
}
