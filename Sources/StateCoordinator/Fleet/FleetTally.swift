import Foundation

/// The tally of one acknowledgement wait on etcd, kept from a ``FleetView``: who applied the
/// version, who is still waited for (live and lagging, or unknown because their host is
/// unreachable), who rejected it, who died. Pure: ``EtcdAcknowledgementWait`` feeds it the view
/// after each watch response.
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

    init(version: UInt64, storeID: String, selection: ReaderSelection) {
        self.version = version
        self.storeID = storeID
        self.selection = selection
    }

    /// Takes every reader the registry knows when the wait starts (live or unknown).
    mutating func begin(_ view: FleetView) {
        for id in view.allIDs {
            switch view.state(of: id) {
            case .live(let reader)? where selection.includes(reader): take(id, reader, into: \.lagging)
            case .unknown(let reader)? where selection.includes(reader): take(id, reader, into: \.unknown)
            default: break
            }
        }
        update(view)
    }

    private mutating func take(_ id: String, _ reader: RegisteredReader, into list: WritableKeyPath<FleetTally, [String: RegisteredReader]>) {
        self[keyPath: list][id] = reader
        for name in selection.wanted ?? [] where name.matches(reader) { seenNames.insert(name) }
    }

    /// Moves each reader waited for as the registry now says; readers with a label still missing
    /// join. Returns whether nobody is left to wait for.
    @discardableResult
    mutating func update(_ view: FleetView) -> Bool {
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
                if reader.hasApplied(version, storeID: storeID) {
                    finish(id, reader, in: \.applied)
                } else if reader.hasRejected(version, storeID: storeID) {
                    finish(id, reader, in: \.rejected)
                } else {
                    lagging[id] = reader
                }
            case .unknown?:
                // Keep what was last known of it (its loaded and applied versions).
                lagging[id] = nil
                unknown[id] = last
            case .died?, nil:
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

    /// The report, with unknown readers grouped by host as `view` describes them.
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
