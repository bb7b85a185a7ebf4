import Foundation

/// The tally of one acknowledgement wait on etcd, kept from a ``FleetView``: who applied the
/// version, who is still waited for (live and lagging, or unknown: lease gone), who rejected it,
/// who died. Pure: ``EtcdAcknowledgementWait`` feeds it the view and the time after each watch
/// response and every tick.
///
/// Dead is decided, not read: a reader whose lease is gone is taken for dead once its host has
/// been heard from (``FleetView/isVouched(_:)``) for its whole lease TTL since the wait saw it go.
/// The leases of one host cut off lapse at different instants, up to a TTL apart: a reader whose
/// lease went first, its mirror's still counting down, is not dead but cut off, and is told apart
/// by waiting that TTL out.
struct FleetTally: Sendable {
    let version: UInt64
    let storeID: String
    let selection: ReaderSelection

    private(set) var lagging: [String: RegisteredReader] = [:]
    private(set) var unknown: [String: RegisteredReader] = [:]
    private(set) var applied: [RegisteredReader] = []
    private(set) var rejected: [RegisteredReader] = []
    private(set) var died: [RegisteredReader] = []
    private var reported: Set<String> = []
    private var seenNames: Set<ReaderName> = []
    /// When each reader waited for was first seen without its lease.
    private var unknownSince: [String: ContinuousClock.Instant] = [:]
    /// Since when each host (key-safe name, and the kind of reader vouched for) has been vouched
    /// for without a break.
    private var vouchedSince: [String: ContinuousClock.Instant] = [:]
    /// Readers found dead here whose roster entries are left (a writer removes them).
    private(set) var deadIDs: [String] = []

    init(version: UInt64, storeID: String, selection: ReaderSelection) {
        self.version = version
        self.storeID = storeID
        self.selection = selection
    }

    /// Takes every reader the registry knows when the wait starts (live or unknown).
    mutating func begin(_ view: FleetView, now: ContinuousClock.Instant) {
        for id in view.allIDs {
            switch view.state(of: id) {
            case .live(let reader)? where selection.includes(reader): take(id, reader, into: \.lagging)
            case .unknown(let reader, _)? where selection.includes(reader): take(id, reader, into: \.unknown)
            default: break
            }
        }
        update(view, now: now)
    }

    private mutating func take(_ id: String, _ reader: RegisteredReader, into list: WritableKeyPath<FleetTally, [String: RegisteredReader]>) {
        self[keyPath: list][id] = reader
        for name in selection.wanted ?? [] where name.matches(reader) { seenNames.insert(name) }
    }

    /// Moves each reader waited for as the registry now says; readers with a label still missing
    /// join. Returns whether nobody is left to wait for.
    @discardableResult
    mutating func update(_ view: FleetView, now: ContinuousClock.Instant) -> Bool {
        if !missingLabels.isEmpty {
            for id in view.allIDs where lagging[id] == nil && unknown[id] == nil && !reported.contains(id) {
                if case .live(let reader)? = view.state(of: id), selection.includes(reader),
                    (selection.wanted ?? []).contains(where: { $0.matches(reader) && !seenNames.contains($0) })
                {
                    take(id, reader, into: \.lagging)
                }
            }
        }
        for id in Set(lagging.keys).union(unknown.keys).sorted() {
            let last = lagging[id] ?? unknown[id]!
            switch view.state(of: id) {
            case .live(let reader)?:
                unknown[id] = nil
                unknownSince[id] = nil
                if reader.hasApplied(version, storeID: storeID) {
                    finish(id, reader, in: \.applied)
                } else if reader.hasRejected(version, storeID: storeID) {
                    finish(id, reader, in: \.rejected)
                } else {
                    lagging[id] = reader
                }
            case .unknown(let lastKnown, let hostHeard)?:
                let since = unknownSince[id] ?? now
                unknownSince[id] = since
                // Who vouches depends on how the reader connects (its host's mirror vouches for
                // both kinds, a direct reader for direct ones only): one clock per kind.
                let host = EtcdStoreKeys.keySafe(lastKnown.hostName) + (lastKnown.connection == .mirror ? "/mirror" : "/direct")
                if hostHeard { vouchedSince[host] = vouchedSince[host] ?? now } else { vouchedSince[host] = nil }
                if hostHeard, let vouched = vouchedSince[host], now - max(since, vouched) >= view.leaseTTL(of: id) {
                    finish(id, last, in: \.died)
                    deadIDs.append(id)
                } else {
                    // Keep what was last known of it (its loaded and applied versions).
                    lagging[id] = nil
                    unknown[id] = last
                }
            case nil:
                finish(id, last, in: \.died)
            }
        }
        return isDone
    }

    private mutating func finish(_ id: String, _ reader: RegisteredReader, in list: WritableKeyPath<FleetTally, [RegisteredReader]>) {
        lagging[id] = nil
        unknown[id] = nil
        reported.insert(id)
        self[keyPath: list].append(reader)
    }

    var isDone: Bool { lagging.isEmpty && unknown.isEmpty && missingLabels.isEmpty }

    var missingLabels: [String] {
        guard let wanted = selection.wanted else { return [] }
        return wanted.subtracting(seenNames).map(\.description).sorted()
    }

    /// The report, with unknown readers grouped by host as `view` describes them. A reader whose
    /// lease is gone while its host is heard from, not yet long enough to be taken for dead, is
    /// reported with its host all the same: its state is unknown.
    func report(_ view: FleetView, timedOut: Bool, waited: Duration, problem: String?) -> AcknowledgementReport {
        let byLabel: (RegisteredReader, RegisteredReader) -> Bool = { ($0.label, $0.hostName, $0.id) < ($1.label, $1.hostName, $1.id) }
        var report = AcknowledgementReport(
            version: version, storeID: storeID, applied: applied.sorted(by: byLabel), lagging: lagging.values.sorted(by: byLabel),
            rejected: rejected.sorted(by: byLabel), died: died.sorted(by: byLabel), missingLabels: missingLabels,
            timedOut: timedOut, waited: waited, problem: problem)
        report.unreachable = unknown.values.sorted(by: byLabel)
        let hosts = Dictionary(grouping: report.unreachable, by: \.hostName)
        report.unreachableHosts = hosts.keys.sorted().map { view.unreachableHost($0, readers: hosts[$0]!) }
        return report
    }
}
