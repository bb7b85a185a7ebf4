import Foundation
import Prometheus
import StateCoordinator
import StateDocuments
import Synchronization

/// `/metrics`: the registry, brought up to date from each store at every scrape. Names carry the
/// `statecoord_` prefix and base units; labels are the store's name and a reader's label only.
final class SidecarMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let counted = Mutex<[String: Double]>([:])
    private let readerGauges = Mutex<[String: [String: Gauge]]>([:])
    private let fleetGauges = Mutex<[String: [String: Gauge]]>([:])
    /// The pointers of `--gauge`; nil for the default (`/halt`, while it is a boolean).
    private let statePointers: [JSONPointer]?
    /// The `statecoord_state_value` gauges exported, by store and pointer.
    private let stateGauges = Mutex<[String: [JSONPointer: Gauge]]>([:])

    init(registry: PrometheusCollectorRegistry, gauges statePointers: [JSONPointer]? = nil) {
        self.registry = registry
        self.statePointers = statePointers
        registry.makeGauge(descriptor: Self.descriptor("statecoord_build_info", "The sidecar's build; always 1."), labels: [("version", StateSidecar.version)]).record(Int64(1))
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func gauge(_ name: String, _ store: String, _ help: String) -> Gauge {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: [("store", store)])
    }

    /// Raises a counter to `total` (the library's counters are cumulative; Prometheus counters rise by increments).
    private func count(_ name: String, _ store: String, _ total: Int, _ help: String) {
        let counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: [("store", store)])
        let key = name + "\u{0}" + store
        let delta = counted.withLock { seen -> Double in
            let before = seen[key] ?? 0
            seen[key] = Double(total)
            return max(0, Double(total) - before)
        }
        if delta > 0 { counter.increment(by: delta) }
    }

    func render(_ monitors: [StoreMonitor], streams: StreamCount, connections: ConnectionCount? = nil) async -> [UInt8] {
        for monitor in monitors { update(monitor.name, await monitor.observe()) }
        registry.makeGauge(descriptor: Self.descriptor(
            "statecoord_sidecar_stream_slots_used", "Places under --max-streams taken by open /events streams, over all stores."))
            .record(Int64(streams.open.load(ordering: .relaxed)))
        registry.makeGauge(descriptor: Self.descriptor("statecoord_sidecar_stream_slots", "--max-streams: the most /events streams open at once."))
            .record(Int64(streams.limit))
        if let connections {
            registry.makeGauge(descriptor: Self.descriptor("statecoord_sidecar_connections", "HTTP connections open (this scrape's included)."))
                .record(Int64(connections.open.load(ordering: .relaxed)))
            registry.makeGauge(descriptor: Self.descriptor("statecoord_sidecar_connection_limit", "--max-connections: more wait to be accepted."))
                .record(Int64(connections.limit))
        }
        return registry.emitToBuffer()
    }

    private func update(_ store: String, _ o: StoreMonitor.Observation) {
        let snapshot = o.snapshot
        gauge("statecoord_version", store, "The newest version the sidecar holds.").record(Int64(clamping: snapshot.version))
        gauge("statecoord_last_commit_timestamp_seconds", store, "When that version was committed (its committedAt), seconds since the epoch.")
            .record(snapshot.committedAt.timeIntervalSince1970)
        gauge("statecoord_state_bytes", store, "Size of the state file holding that version, header included.").record(Int64(snapshot.fileSize))
        gauge("statecoord_verified", store, "1 when the current state file reads and verifies, else 0.").record(Int64(o.verified == nil ? 1 : 0))
        count("statecoord_verify_failures_total", store, o.statistics.problems, "Versions or files the sidecar could not use.")
        gauge("statecoord_lock_held", store, "1 while a process holds the writer lock (from /proc/locks).").record(Int64(o.holder == nil ? 0 : 1))
        gauge("statecoord_lock_held_seconds", store, "How long the current holder has held the writer lock, as far as the sidecar saw.").record(o.heldSeconds)
        gauge("statecoord_orphan_temp_files", store, "Temp files left by writers that died mid-commit.").record(Int64(o.orphans.count))
        gauge("statecoord_history_versions", store, "Past versions kept in history.").record(Int64(o.historyCount))
        let inotify: Int64 = if case .inotify = o.mode { 1 } else { 0 }
        gauge("statecoord_watch_inotify", store, "1 while the sidecar hears of commits by inotify, 0 while it polls.").record(inotify)
        count("statecoord_missed_notifications_total", store, o.statistics.missedEvents, "Versions the consistency check found that no notification announced.")
        count("statecoord_queue_overflows_total", store, o.statistics.resynchronizations, "inotify queue overflows and re-arms, each followed by a full reload.")
        count("statecoord_reloads_total", store, o.statistics.reloads, "State files read and verified.")
        count("statecoord_commits_observed_total", store, o.statistics.delivered, "Versions the sidecar took in (a burst may coalesce).")
        let lagging = o.readers.filter { ReaderDocument.lagVersions($0, snapshot) != 0 }
        gauge("statecoord_readers_live", store, "Registered readers alive.").record(Int64(o.readers.count))
        gauge("statecoord_readers_lagging", store, "Registered readers that have not applied the current version.").record(Int64(lagging.count))
        gauge("statecoord_readers_rejecting", store, "Registered readers rejecting a version newer than the one they applied.")
            .record(Int64(o.readers.filter(\.isRejecting).count))
        gauge("statecoord_readers_not_counted", store, "Live registered readers of users the store's reader users do not name.")
            .record(Int64(o.listing.notCounted.count))
        gauge("statecoord_registry_invalid_entries", store, "Reader registry entries that are no reader's (files of two users, planted links).")
            .record(Int64(o.listing.invalid.count))
        gauge("statecoord_registry_entries", store, "Entries in the reader registry, looked at or not (at most 4096 are per listing).")
            .record(Int64(o.listing.entryCount))
        let unknown = o.listing.unreachableHosts.reduce(0) { $0 + $1.readers.count }
        gauge("statecoord_readers_unknown", store, "Registered readers whose state is unknown: their host (its mirror, or its every direct reader) lost its etcd lease.")
            .record(Int64(unknown))
        gauge("statecoord_hosts_unreachable", store, "Hosts of a store on etcd whose readers' state is unknown.").record(Int64(o.listing.unreachableHosts.count))
        gauge("statecoord_sidecar_event_streams", store, "/events streams open.").record(Int64(o.streams))
        count("statecoord_sidecar_stream_skipped_versions_total", store, o.droppedForSlowStreams,
            "Versions /events streams skipped (reported to their clients as gaps) because they fell behind.")
        updateReaders(store, o)
        updateFleetReaders(store, o)
        updateStateValues(store, o.snapshot.state)
    }

    /// On etcd, per reader label, host and connection (`direct` or `mirror`):
    /// `statecoord_fleet_reader_lag_versions` and `statecoord_fleet_reader_applied_version`, so that
    /// a bot lagging on one host is told from the same bot on another. Readers of unknown state
    /// have no sample (`statecoord_readers_unknown` counts them).
    private func updateFleetReaders(_ store: String, _ o: StoreMonitor.Observation) {
        var byReader: [String: (labels: [(String, String)], applied: UInt64, lag: UInt64)] = [:]
        for reader in o.readers where !reader.label.isEmpty && reader.connection != .local {
            let applied = reader.storeID == o.snapshot.storeID ? reader.applied?.version ?? 0 : 0
            let lag = ReaderDocument.lagVersions(reader, o.snapshot) ?? o.snapshot.version
            let key = [reader.label, reader.hostName, reader.connection.rawValue].joined(separator: "\u{1}")
            let known = byReader[key]
            let labels = [
                ("store", store), ("reader", TerminalText.safe(reader.label)), ("host", TerminalText.safe(reader.hostName)),
                ("via", reader.connection.rawValue),
            ]
            byReader[key] = (labels, min(applied, known?.applied ?? .max), max(lag, known?.lag ?? 0))
        }
        fleetGauges.withLock { all in
            var gauges = all[store] ?? [:]
            for (key, gauge) in gauges where byReader[String(key.dropFirst(2))] == nil {
                registry.unregisterGauge(gauge)
                gauges[key] = nil
            }
            for (key, figures) in byReader {
                let applied = gauges["a:" + key] ?? registry.makeGauge(
                    descriptor: Self.descriptor("statecoord_fleet_reader_applied_version", "The version a reader of a store on etcd (by label, host and connection) has applied."),
                    labels: figures.labels)
                let lag = gauges["l:" + key] ?? registry.makeGauge(
                    descriptor: Self.descriptor("statecoord_fleet_reader_lag_versions", "Versions a reader of a store on etcd (by label, host and connection) is behind the current one."),
                    labels: figures.labels)
                applied.record(Int64(clamping: figures.applied))
                lag.record(Int64(clamping: figures.lag))
                gauges["a:" + key] = applied
                gauges["l:" + key] = lag
            }
            all[store] = gauges
        }
    }

    /// `statecoord_state_value{store,pointer}`: the state's own numbers and booleans (1/0), for
    /// alerts on them. A pointer whose value is missing or of another kind has no sample.
    private func updateStateValues(_ store: String, _ state: JSONValue) {
        let pointers = statePointers ?? [JSONPointer(tokens: ["halt"])]
        stateGauges.withLock { all in
            var gauges = all[store] ?? [:]
            for pointer in pointers {
                let sample: Double? =
                    switch try? state.value(at: pointer) {
                    case .bool(let flag)?: flag ? 1 : 0
                    case .int(let number)?: Double(number)
                    case .double(let number)?: number
                    case .largeInteger(let digits)?: Double(digits)
                    default: nil
                    }
                guard let sample else {
                    if let gauge = gauges.removeValue(forKey: pointer) { registry.unregisterGauge(gauge) }
                    continue
                }
                let gauge = gauges[pointer] ?? registry.makeGauge(
                    descriptor: Self.descriptor(
                        "statecoord_state_value", "A value of the state (state-sidecar --gauge POINTER): a number as it is, a boolean as 1 or 0."),
                    labels: [("store", store), ("pointer", pointer.description)])
                gauge.record(sample)
                gauges[pointer] = gauge
            }
            all[store] = gauges
        }
    }

    /// Per reader label and user (several readers may share both: the oldest applied version
    /// counts). The user is part of the series: any user may register any label.
    private func updateReaders(_ store: String, _ o: StoreMonitor.Observation) {
        var byReader: [String: (label: String, user: String, applied: UInt64, lag: UInt64)] = [:]
        for reader in o.readers where !reader.label.isEmpty {
            let applied = reader.storeID == o.snapshot.storeID ? reader.applied?.version ?? 0 : 0
            let lag = ReaderDocument.lagVersions(reader, o.snapshot) ?? o.snapshot.version
            let user = reader.ownerName ?? reader.owner.map(String.init) ?? ""
            let key = reader.label + "\u{1}" + user
            let known = byReader[key]
            byReader[key] = (reader.label, user, min(applied, known?.applied ?? .max), max(lag, known?.lag ?? 0))
        }
        readerGauges.withLock { all in
            var gauges = all[store] ?? [:]
            for (key, gauge) in gauges where byReader[String(key.dropFirst(2))] == nil {
                registry.unregisterGauge(gauge)
                gauges[key] = nil
            }
            for (key, figures) in byReader {
                let labels = [("store", store), ("reader", TerminalText.safe(figures.label)), ("user", TerminalText.safe(figures.user))]
                let applied = gauges["a:" + key] ?? registry.makeGauge(
                    descriptor: Self.descriptor("statecoord_reader_applied_version", "The version a registered reader (by label and user) has applied."), labels: labels)
                let lag = gauges["l:" + key] ?? registry.makeGauge(
                    descriptor: Self.descriptor("statecoord_reader_lag_versions", "Versions a registered reader (by label and user) is behind the current one."), labels: labels)
                applied.record(Int64(clamping: figures.applied))
                lag.record(Int64(clamping: figures.lag))
                gauges["a:" + key] = applied
                gauges["l:" + key] = lag
            }
            all[store] = gauges
        }
    }
}
