import Foundation
import Synchronization

/// A follow of a store on etcd (``BackendFollow``): the newest version (or every version after
/// `since`, from history), then a watch of the state key from the revision after the one held.
///
/// The watch runs in a task (gRPC is async and never blocks); each response is verified,
/// decoded and delivered on a serial queue of the follow's own, which the task waits for, so the
/// stream is not read faster than it is delivered. The rules (see <doc:RunningOnEtcd>):
/// - a watch cancelled because its revision was compacted is never reopened from the same
///   revision: the key is read again, the version delivered (a gap for what history lacks, to a
///   follower of every version), and the watch reopened after it (etcd issues 9386, 8668);
/// - a jump in the version numbers inside the stream is filled from history or reported as a
///   gap (etcd issue 18089: an event can be lost at compaction);
/// - a watch silent past the idle timeout is reopened, on the next member if need be (etcd
///   issue 8980), from the revision after the last one heard;
/// - nothing is delivered after ``stop()`` returns.
final class EtcdFollow<State: Codable & Sendable>: BackendFollow, @unchecked Sendable {
    // @unchecked: `held` is touched only on `queue`; the rest is in mutexes or immutable.
    private let access: EtcdStoreAccess
    private let request: FollowRequest<State>
    private let queue: DispatchQueue
    /// Taken around each delivery and by ``stop()``: recursive, so that a sink may stop its follow.
    private let gate = NSRecursiveLock()
    private var stopped = false

    private struct Shared {
        var statistics = WatchStatistics()
        var mode: WatchMode
        var task: Task<Void, Never>?
        /// The last problem reported, so that a cluster down for a minute is reported once.
        var lastProblem: String?
    }
    private let shared: Mutex<Shared>

    /// What the subscriber holds (on `queue` only).
    private var held: (version: UInt64, storeID: String?)?

    init(access: EtcdStoreAccess, request: FollowRequest<State>) {
        self.access = access
        self.request = request
        queue = DispatchQueue(label: "StateCoordinator.etcd.follow.\(access.keys.name)")
        shared = Mutex(Shared(mode: .etcd(endpoint: access.client.endpoints.first?.description ?? "")))
        if let since = request.since {
            held = (since, nil)
        } else if let holding = request.holding {
            held = (holding.version, holding.storeID)
        }
    }

    var mode: WatchMode { shared.withLock { $0.mode } }
    var statistics: WatchStatistics { shared.withLock { $0.statistics } }

    func start() {
        let startRevision: Int64? = request.since == nil ? request.holding?.revision.map { $0 + 1 } : nil
        let task = Task(executorPreference: EtcdTaskExecutor.shared) { [self] in
            if let beforeFirstRead = request.beforeFirstRead { await onQueue { beforeFirstRead() } }
            await follow(from: startRevision)
        }
        shared.withLock { $0.task = task }
    }

    func stop() {
        gate.lock()
        stopped = true
        gate.unlock()
        let task = shared.withLock { shared in
            shared.mode = .closed
            defer { shared.task = nil }
            return shared.task
        }
        task?.cancel()
    }

    /// The follow's life: read when there is no revision to watch from, watch, and start again
    /// after a compaction or a failure.
    private func follow(from start: Int64?) async {
        let cursor = Cursor(start)
        var failures = 0
        while !Task.isCancelled {
            if cursor.next == nil {
                do {
                    let (value, revision) = try await access.readStateAndRevision()
                    // From after the revision the read saw, not after the key's last change: a quiet
                    // key's last change may be compacted away while the cluster's revision moves on.
                    cursor.next = revision + 1
                    await onQueue { self.deliverRead(value) }
                    failures = 0
                } catch {
                    await report(error, doing: "read")
                    failures += 1
                    await pause(failures)
                    continue
                }
            }
            do {
                try await watch(from: cursor.next!) { revision in cursor.advance(to: revision) }
            } catch is Compacted {
                // Never reopened from the same revision: read the key again first.
                shared.withLock { $0.statistics.resynchronizations += 1 }
                // Compactions in a row with no event between them: the second and later ones wait first.
                let inARow = cursor.compacted()
                if inARow > 1 { await pause(inARow) }
            } catch let failure as EtcdFailure {
                if Task.isCancelled { return }
                await report(failure, doing: "watch")
                failures += 1
                await pause(failures)
            } catch {
                if Task.isCancelled { return }
                failures += 1
                await pause(failures)
            }
        }
    }

    private struct Compacted: Error { var revision: Int64 }

    /// The revision the next watch starts from (nil: read the key first), and how many
    /// compactions in a row sent the follow back to reading.
    private final class Cursor: Sendable {
        private let value: Mutex<(next: Int64?, compactions: Int)>
        init(_ start: Int64?) { value = Mutex((start, 0)) }
        var next: Int64? {
            get { value.withLock { $0.next } }
            set { value.withLock { $0.next = newValue } }
        }
        /// An event arrived: the next watch starts after it.
        func advance(to revision: Int64) { value.withLock { $0 = (revision, 0) } }
        /// A compaction: read first; returns the compactions in a row.
        func compacted() -> Int {
            value.withLock {
                $0.next = nil
                $0.compactions += 1
                return $0.compactions
            }
        }
    }

    /// Watches from `revision` until the stream fails, passing each revision to start from next.
    private func watch(from revision: Int64, advance: @escaping @Sendable (Int64) -> Void) async throws {
        let keys = access.keys
        let idle = access.client.configuration.watchIdleTimeout
        let start = Mutex(revision)
        // Why the server ended the watch, set by the handler (an error thrown there would reach
        // us wrapped by gRPC, and be taken for the member's failure).
        let ended = Mutex<WatchEnd?>(nil)
        try await access.client.call(streaming: true) { call in
            self.shared.withLock { $0.mode = .etcd(endpoint: call.endpoint) }
            try await EtcdWatchSession.run(call, key: keys.state, startRevision: start.withLock { $0 }, idleTimeout: idle) { response in
                if response.canceled {
                    ended.withLock {
                        $0 = response.compactRevision > 0 ? .compacted(response.compactRevision) : .cancelled(response.cancelReason, call.endpoint)
                    }
                    return .finish
                }
                self.shared.withLock { $0.statistics.looks += 1; $0.lastProblem = nil }
                if response.created { return .more }
                guard let last = response.events.last else {
                    // A progress reply keeps the watchdog quiet and moves nothing: in etcd 3.4
                    // before 3.4.25 it may overtake events of lower revisions still in flight, so a
                    // watch reopened from it could skip them. Reopening from the last event instead
                    // costs at most a version delivered twice, which is filtered out.
                    return .more
                }
                let events = response.events
                await self.onQueue { self.deliver(events) }
                start.withLock { $0 = last.kv.modRevision + 1 }
                advance(last.kv.modRevision + 1)
                return .more
            }
        }
        switch ended.withLock({ $0 }) {
        case .compacted(let revision)?: throw Compacted(revision: revision)
        case .cancelled(let reason, let endpoint)?: throw EtcdFailure.refused(RPCErrorCancelled.make(reason), endpoint: endpoint)
        case nil: throw EtcdFailure.unavailable(tried: [(endpoint: "watch", reason: "the watch stream ended")])
        }
    }

    /// Why the server ended a watch.
    private enum WatchEnd {
        case compacted(Int64)
        case cancelled(String, String)
    }

    // MARK: On the queue

    private func deliverRead(_ value: EtcdValue?) {
        guard let value else {
            if held != nil { emit(.storeGone(path: access.keys.stateKey)) } else { problem(EtcdStoreLocation.noStore(access)) }
            return
        }
        accept(value)
    }

    private func deliver(_ events: [Etcdserverpb_Event]) {
        for event in events {
            switch event.type {
            case .delete: emit(.storeGone(path: access.keys.stateKey))
            default: accept(EtcdValue(event.kv))
            }
        }
    }

    /// Delivers a version unless it is held already; a new store identity is a reset, and a jump
    /// in the numbers is filled from history (or reported) for a follower of every version.
    private func accept(_ value: EtcdValue) {
        let version: EtcdVersion
        do { version = try EtcdVersion(value, path: access.keys.stateKey) } catch {
            shared.withLock { $0.statistics.unusableVersions += 1 }
            problem(error)
            return
        }
        let header = version.header
        if let held, let previous = held.storeID, previous != header.store {
            emit(.storeReset(previousID: previous, newID: header.store))
            self.held = nil
        }
        if let held {
            guard header.version > held.version else { return }
            if header.version > held.version + 1 {
                shared.withLock { $0.statistics.missedEvents += Int(clamping: header.version - held.version - 1) }
                if request.everyVersion { fill(from: held.version + 1, to: header.version - 1, storeID: header.store) }
            }
        }
        let snapshot: StateSnapshot<State>
        do { snapshot = try version.snapshot(as: State.self, path: access.keys.stateKey) } catch {
            shared.withLock { $0.statistics.unusableVersions += 1 }
            problem(error)
            held = (header.version, header.store)
            return
        }
        held = (header.version, header.store)
        shared.withLock { $0.statistics.delivered += 1; $0.statistics.reloads += 1 }
        emit(.snapshot(snapshot))
    }

    /// The most versions filled from history at once; older ones are reported as a gap.
    static var maximumFill: UInt64 { 10_000 }

    /// The versions `first…last` from history, in order; a gap for those it does not have.
    private func fill(from requestedFirst: UInt64, to last: UInt64, storeID: String) {
        guard requestedFirst <= last else { return }
        var first = requestedFirst
        if last - first >= Self.maximumFill {
            first = last - Self.maximumFill + 1
            emit(.gap(missing: requestedFirst...(first - 1)))
        }
        // One request for the range; a failure is said, and the range reported as a gap (it
        // cannot be delivered now), never taken for versions that are not kept.
        let kept: [EtcdValue]
        do {
            kept = try access.list(
                from: access.keys.history(first), to: last == UInt64.max ? EtcdStoreKeys.rangeEnd(access.keys.historyPrefix) : access.keys.history(last + 1),
                doing: "read the history of")
        } catch {
            problem(error)
            emit(.gap(missing: first...last))
            return
        }
        var byVersion: [UInt64: EtcdValue] = [:]
        for value in kept { if let version = access.keys.version(ofHistoryKey: value.key) { byVersion[version] = value } }
        var missingFrom: UInt64?
        var version = first
        while version <= last {
            if stoppedNow { return }
            if let value = byVersion[version], let decoded = try? EtcdVersion(value, path: access.keys.stateKey),
                decoded.header.version == version, decoded.header.store == storeID,
                let snapshot = try? decoded.snapshot(as: State.self, path: access.keys.stateKey)
            {
                if let from = missingFrom { emit(.gap(missing: from...(version - 1))) }
                missingFrom = nil
                shared.withLock { $0.statistics.delivered += 1 }
                emit(.snapshot(snapshot))
            } else if missingFrom == nil {
                missingFrom = version
            }
            if version == UInt64.max { break }
            version += 1
        }
        if let from = missingFrom { emit(.gap(missing: from...last)) }
    }

    /// Whether ``stop()`` was called.
    private var stoppedNow: Bool {
        gate.lock()
        defer { gate.unlock() }
        return stopped
    }

    private func problem(_ error: StateStoreError) {
        shared.withLock { $0.statistics.problems += 1 }
        emit(.problem(error))
    }

    private func emit(_ event: WatchEvent<State>) {
        gate.lock()
        defer { gate.unlock() }
        guard !stopped else { return }
        request.sink(event)
    }

    // MARK: Helpers

    private func onQueue(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                work()
                continuation.resume()
            }
        }
    }

    /// Reports a failure once until the follow hears from the cluster again.
    private func report(_ failure: EtcdFailure, doing operation: String) async {
        let error = access.translate(failure, doing: operation, committed: nil)
        let isNew = shared.withLock { shared in
            defer { shared.lastProblem = error.message }
            return shared.lastProblem == nil
        }
        if isNew { await onQueue { self.problem(error) } }
    }

    /// Waits before trying again: 100 ms doubling to 2 s.
    private func pause(_ failures: Int) async {
        let milliseconds = min(2000, 100 << min(failures, 5))
        try? await Task.sleep(for: .milliseconds(milliseconds))
    }
}
