import DequeModule
import Foundation
import StateCoordinator
import Synchronization

/// The versions the sidecar saw most recently, with each one's commit time and its delay from
/// rename to sidecar: what the live page's charts start from, instead of flat zeros at load.
final class RecentVersions: Sendable {
    struct Seen: Sendable {
        var version: UInt64
        var committedAt: Date
        /// From the rename to the sidecar holding it; nil when the rename time is not known.
        var delay: Duration?
    }

    /// As many as the page's delay chart shows.
    static let capacity = 120
    private let seen = Mutex<Deque<Seen>>([])

    func note(_ snapshot: StateSnapshot<JSONValue>, delay: Duration?) {
        seen.withLock { seen in
            seen.append(Seen(version: snapshot.version, committedAt: snapshot.committedAt, delay: delay))
            if seen.count > Self.capacity { seen.removeFirst(seen.count - Self.capacity) }
        }
    }

    /// `/recent`: `commitTimes` (milliseconds since the epoch, oldest first) of the versions
    /// committed within `window` — kept ones from history and the ones the sidecar saw, each once —
    /// and `delaysMs`, the delays of the versions the sidecar saw.
    func json(history: [HistoryEntry], now: Date = Date(), window: TimeInterval = 300) -> JSONValue {
        let seen = self.seen.withLock { $0 }
        var times: [UInt64: Date] = [:]
        for entry in history { times[entry.version] = entry.committedAt }
        for version in seen { times[version.version] = version.committedAt }
        let commitTimes = times.values.filter { now.timeIntervalSince($0) < window && $0 <= now }.sorted()
            .map { JSONValue.int(Int64(($0.timeIntervalSince1970 * 1000).rounded())) }
        let delays = seen.compactMap(\.delay).map { JSONValue.double(Double($0.components.attoseconds) / 1e15 + Double($0.components.seconds) * 1000) }
        return ["commitTimes": .array(commitTimes), "delaysMs": .array(delays)]
    }
}
