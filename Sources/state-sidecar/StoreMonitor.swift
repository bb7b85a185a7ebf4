import Foundation
import Prometheus
import StateCoordinator
import StateDocuments
import Synchronization

/// One store the sidecar watches: a reader holding the newest version, and what the sidecar
/// learned while following it. Only reads: it never takes the writer lock.
final class StoreMonitor: Sendable {
    let name: String
    let store: ReadOnlyStateStore<JSONValue>
    let reader: StateReader<JSONValue>
    /// When the sidecar first saw the current lock holder (pid), for "held for how long".
    private let lockSeen = Mutex<(pid: Int32, since: Date)?>(nil)
    /// The reader's count of looks at the state file, and when it last changed, for /readyz.
    private let looksSeen = Mutex<(looks: Int, since: ContinuousClock.Instant)?>(nil)
    /// The versions for `/events` streams.
    let feed: EventFeed
    /// The versions seen lately, for the live page's charts.
    let recent: RecentVersions

    /// The buckets of the propagation histogram: from 100 µs up.
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5),
    ]

    private init(name: String, store: ReadOnlyStateStore<JSONValue>, reader: StateReader<JSONValue>, recent: RecentVersions) {
        self.name = name
        self.store = store
        self.reader = reader
        self.recent = recent
        self.feed = EventFeed(store: store)
    }

    static func open(directory: String, name: String, registry: PrometheusCollectorRegistry) async throws -> StoreMonitor {
        try await open(try await ReadOnlyStateStore<JSONValue>(directory: directory, name: name), name: name, registry: registry)
    }

    /// The monitor of a store on an etcd cluster.
    static func open(etcd: EtcdConfiguration, name: String, registry: PrometheusCollectorRegistry) async throws -> StoreMonitor {
        try await open(try await ReadOnlyStateStore<JSONValue>(etcd: etcd, name: name), name: name, registry: registry)
    }

    private static func open(_ store: ReadOnlyStateStore<JSONValue>, name: String, registry: PrometheusCollectorRegistry) async throws -> StoreMonitor {
        let fromRename = registry.makeDurationHistogram(
            descriptor: SidecarMetrics.descriptor(
                "statecoord_propagation_seconds",
                "From the rename that made a version current until the sidecar held it, read and verified. The rename time is the state file's change time, stamped from the kernel's coarse clock: up to one tick (4 ms at 250 Hz) early, so a delay may read high by that much."),
            labels: [("store", name)], buckets: buckets)
        let fromStamp = registry.makeDurationHistogram(
            descriptor: SidecarMetrics.descriptor(
                "statecoord_propagation_since_commit_stamp_seconds",
                "From a version's committedAt stamp (taken before its writer wrote and fsynced it) until the sidecar held it: commit time plus delivery."),
            labels: [("store", name)], buckets: buckets)
        let recent = RecentVersions()
        let reader = try await StateObservation().reader(in: store) { event in
            guard case .snapshot(let snapshot) = event else { return }
            let fromReplacement = snapshot.replacedAt.map { delay(from: $0, to: snapshot.loadedAt) }
            if let fromReplacement { fromRename.record(fromReplacement) }
            fromStamp.record(delay(from: snapshot.committedAt, to: snapshot.loadedAt))
            recent.note(snapshot, delay: fromReplacement)
        }
        return StoreMonitor(name: name, store: store, reader: reader, recent: recent)
    }

    /// `end - start`, never negative (the two may come from different clocks' readings) and at
    /// most a year (a stamp from a foreign writer may be any date the format allows).
    static func delay(from start: Date, to end: Date) -> Duration {
        let seconds = min(max(0, end.timeIntervalSince(start)), 365 * 86_400)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// Why the watch is not armed, or nil. A watch looks at the state file at least once per
    /// consistency check (1 s) under inotify, once per poll interval (100 ms) when polling: one
    /// that has not looked for three times that long (or 1 s, if longer) is stuck. Compared
    /// between calls, so the first call only takes note.
    /// - Parameter looks: the reader's count of looks (for tests; read from the reader by default).
    func watchProblem(now: ContinuousClock.Instant = .now, looks: Int? = nil) -> String? {
        let mode = reader.mode
        let interval: Duration
        switch mode {
        case .closed: return "the watch is closed"
        case .inotify: interval = WatchOptions.defaultConsistencyCheckInterval
        case .polling: interval = WatchOptions.defaultPollInterval
        case .etcd: interval = .seconds(10)  // the etcd watch's idle timeout: progress replies count as looks
        }
        let limit = max(interval * 3, .seconds(1))
        let looks = looks ?? reader.statistics.looks
        return looksSeen.withLock { seen -> String? in
            guard let previous = seen, previous.looks == looks else {
                seen = (looks, now)
                return nil
            }
            let quiet = now - previous.since
            guard quiet > limit else { return nil }
            return "the watch (\(mode)) has not looked at the state file for \(String(format: "%.1f", Double(quiet.components.seconds) + Double(quiet.components.attoseconds) / 1e18)) s"
        }
    }

    /// How long the current holder has held the lock, as far as the sidecar has seen (0 when free).
    func lockHeldSeconds(_ holder: LockHolder?) -> Double {
        lockSeen.withLock { seen in
            guard let holder else {
                seen = nil
                return 0
            }
            if seen?.pid != holder.pid { seen = (holder.pid, Date()) }
            return Date().timeIntervalSince(seen!.since)
        }
    }

    /// A moment of the store, for /status, /metrics and /readyz.
    struct Observation: Sendable {
        var snapshot: StateSnapshot<JSONValue>
        var verified: StateStoreError?
        var holder: LockHolder?
        var heldSeconds: Double
        var mode: WatchMode
        var orphans: [String]
        var historyCount: Int
        var readers: [RegisteredReader]
        /// The whole registry listing (readers not counted, invalid entries).
        var listing: ReaderListing
        var registryProblem: String?
        var lockFileWarning: String?
        var statistics: WatchStatistics
        /// Event streams open on this store, and versions they skipped because they fell behind.
        var streams: Int
        var droppedForSlowStreams: Int
    }

    func observe() async -> Observation {
        let current = reader.current
        var verified: StateStoreError? = reader.problem
        do { _ = try await store.read() } catch { verified = error }
        let holder = try? await store.lockHolder()
        var listing = ReaderListing()
        var registryProblem: String?
        do { listing = try await store.readerListing() } catch { registryProblem = error.description }
        return Observation(
            snapshot: current, verified: verified, holder: holder, heldSeconds: lockHeldSeconds(holder), mode: reader.mode,
            orphans: (try? await store.orphanTempFiles()) ?? [], historyCount: (try? await store.history().count) ?? 0,
            readers: listing.readers, listing: listing, registryProblem: registryProblem, lockFileWarning: await store.lockFileExposure(), statistics: reader.statistics,
            streams: feed.streamCount, droppedForSlowStreams: feed.droppedForSlowStreams.load(ordering: .relaxed))
    }

}

extension StoreMonitor.Observation {
    /// `/status`: the members of `statectl status --json`, plus `store`, `verified` and `problem`.
    func statusJSON(store: String) -> JSONValue {
        var object = status.json()
        object["store"] = .string(store)
        object["verified"] = .bool(verified == nil)
        object["problem"] = verified.map { .string($0.description) } ?? .null
        return .object(object)
    }

    /// What `statectl status` would show.
    var status: StatusDocument {
        StatusDocument(
            snapshot: snapshot, holder: holder, mode: mode, orphans: orphans, historyCount: historyCount, readers: readers,
            registryProblem: registryProblem, lockFileWarning: lockFileWarning, registryWarning: ReaderDocument.warning(listing))
    }
}
