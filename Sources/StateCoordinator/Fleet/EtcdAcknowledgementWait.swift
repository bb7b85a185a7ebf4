import Foundation
import Synchronization

/// Waits until every selected reader of a store on etcd, on every host, has applied a version
/// (or a newer one), rejected it, or died; or until the timeout (<doc:FleetAcrossHosts>).
///
/// A watch of the registry's prefix (`readers/`) opened from the cluster's current revision,
/// then, once etcd confirmed it, one range read of the prefix; events at or below the read's
/// revision are in the read already and skipped. Each acknowledgement is a record put, each
/// death a lease's keys deleted, each unreachable host its mirror's presence deleted, and every
/// one of them arrives as an event (no polling). The watch is opened first, not after the read,
/// because etcd serves a watch that starts in the past ("unsynced") from a loop that runs every
/// 100 ms: acknowledgements landing between a read and a watch opened after it were seen up to
/// 100 ms late (measured: every wait took 100 ms). A reader whose host is unreachable is waited
/// for as unknown, and comes back into the wait when its host does. The watch is reopened on
/// another member when its member fails or falls silent, and the registry read again then.
struct EtcdAcknowledgementWait: Sendable {
    let access: EtcdStoreAccess
    let version: UInt64
    let storeID: String
    let selection: ReaderSelection
    let timeout: Duration
    /// Whether the roster entries of readers found dead are removed at the end (a writer's do).
    let removesDead: Bool

    private final class Progress: Sendable {
        struct Contents {
            var view: FleetView
            var tally: FleetTally
            /// The registry's revision the view holds; nil before the first read.
            var revision: Int64?
            /// Why the registry could not be read or followed lately, when it could not.
            var problem: String?
            /// When the view was last known current (a watch response, a read): time moves the
            /// tally only up to here, so that a watch gone silent never makes a reader "dead".
            var freshAt = ContinuousClock.now

            /// Takes a whole read of the registry (the first one begins the tally).
            mutating func adopt(_ fresh: FleetView, revision: Int64) -> Bool {
                view = fresh
                let begun = self.revision != nil
                self.revision = revision
                problem = nil
                freshAt = .now
                if begun { return tally.update(view, now: freshAt) }
                tally.begin(view, now: freshAt)
                return tally.isDone
            }
        }
        let contents: Mutex<Contents>
        /// Signalled after each watch response and read: the wait looks at once.
        let changed = EtcdWakeup()
        init(_ contents: Contents) { self.contents = Mutex(contents) }
    }

    /// How often the tally looks at the time (dead readers), besides each watch response.
    static var tick: Duration { .milliseconds(100) }

    /// The least time the first read of the registry is given, whatever the timeout: with
    /// `--ack-timeout 0` the wait still reports who has applied the version already.
    static var firstReadBudget: Duration { .seconds(2) }

    func run() async -> AcknowledgementReport {
        let clock = ContinuousClock()
        let start = clock.now
        let progress = Progress(
            Progress.Contents(view: FleetView(keys: access.keys), tally: FleetTally(version: version, storeID: storeID, selection: selection)))
        let timedOut = await follow(progress, until: start + timeout, firstReadBy: start + max(timeout, Self.firstReadBudget))
        let (view, final, revision, problem) = progress.contents.withLock { ($0.view, $0.tally, $0.revision, $0.problem) }
        guard revision != nil else {
            var report = AcknowledgementReport(version: version, storeID: storeID, waited: clock.now - start)
            report.problem = "the reader registry on etcd could not be read: \(problem ?? "no member answered in time")"
            return report
        }
        if removesDead, !final.deadIDs.isEmpty {
            // Best effort, and no part of the wait: a cluster out of reach by now must not hold it.
            let (access, dead) = (access, final.deadIDs)
            Task(executorPreference: EtcdTaskExecutor.shared) { await access.removeDeadReaders(dead) }
        }
        // A wait that ended short of complete while the registry could not be followed says why.
        var stale = !final.isDone ? problem.map { "the reader registry on etcd could not be followed to the end: \($0)" } : nil
        // Reading fewer keys than there are proves nothing of "every reader".
        if selection == .all, let keys = view.truncatedAt {
            stale = "the reader registry on etcd holds \(keys) keys, more than the \(FleetView.maximumKeys) read: someone is flooding PREFIX/NAME/readers/"
        }
        return final.report(view, timedOut: timedOut && !final.isDone, waited: clock.now - start, problem: stale)
    }

    /// Follows the registry until the tally is done (false) or the deadline passes or the task is
    /// cancelled (true). The watch runs in a task of its own, cancelled and not waited for when
    /// the tally is done: a gRPC stream winds down in its own time (tens of milliseconds), which
    /// is no part of the wait.
    private func follow(_ progress: Progress, until deadline: ContinuousClock.Instant, firstReadBy: ContinuousClock.Instant) async -> Bool {
        let watcher = Task(executorPreference: EtcdTaskExecutor.shared) { await watch(progress) }
        defer { watcher.cancel() }
        while true {
            // Time moves the tally too: a reader whose lease is gone is taken for dead after its TTL.
            let (begun, done) = progress.contents.withLock { contents -> (Bool, Bool) in
                guard contents.revision != nil else { return (false, false) }
                let view = contents.view
                return (true, contents.tally.update(view, now: contents.freshAt))
            }
            if done { return false }
            let now = ContinuousClock.now
            if Task.isCancelled || now >= (begun ? deadline : firstReadBy) { return true }
            await progress.changed.wait(until: min(begun ? deadline : firstReadBy, now + Self.tick))
        }
    }

    /// Follows the prefix, reopening as needed, until the tally is done or the task is cancelled.
    private func watch(_ progress: Progress) async {
        let keys = access.keys
        let idle = access.client.configuration.watchIdleTimeout
        var failures = 0
        while !Task.isCancelled {
            // From now the first time (a synced watch), then from after the revision held.
            let held = progress.contents.withLock { $0.revision }
            let reread = Mutex<String?>(nil)
            do throws(EtcdFailure) {
                try await access.client.call(streaming: true) { call in
                    try await EtcdWatchSession.run(
                        call, key: keys.readersPrefix, rangeEnd: EtcdStoreKeys.rangeEnd(keys.readersPrefix), startRevision: held.map { $0 + 1 } ?? 0,
                        idleTimeout: idle
                    ) { response in
                        if response.canceled {
                            // Compacted past our revision, or refused: read the registry again.
                            reread.withLock { $0 = response.cancelReason.isEmpty ? "the watch was cancelled" : response.cancelReason }
                            return .finish
                        }
                        if response.created {
                            // The watch is in place: everything from here on reaches it. Its header
                            // is the cluster's revision, not how far the watch has caught up: it
                            // never moves ours. The first time, now the read.
                            guard held == nil else { return .more }
                            let fresh = try await access.fleetView()
                            let done = progress.contents.withLock { $0.adopt(fresh.view, revision: fresh.revision) }
                            progress.changed.signal()
                            return done ? .finish : .more
                        }
                        let done = progress.contents.withLock { contents -> Bool in
                            guard let revision = contents.revision else { return false }
                            var reached = revision
                            for event in response.events where event.kv.modRevision > revision {
                                contents.view.apply(key: Array(event.kv.key), value: event.type == .delete ? nil : Array(event.kv.value))
                                reached = max(reached, event.kv.modRevision)
                            }
                            // A progress reply (no event) comes once the watch has caught up: its
                            // header is then how far the view is current.
                            if response.events.isEmpty { reached = max(reached, response.header.revision) }
                            contents.revision = reached
                            contents.freshAt = .now
                            let view = contents.view
                            return contents.tally.update(view, now: contents.freshAt)
                        }
                        progress.changed.signal()
                        return done ? .finish : .more
                    }
                }
                failures = 0
            } catch {
                failures += 1
                progress.contents.withLock { $0.problem = error.reason }
            }
            if Task.isCancelled || progress.contents.withLock({ $0.tally.isDone && $0.revision != nil }) { return }
            if let reason = reread.withLock({ $0 }) {
                // A watch etcd cancelled (compacted, refused) is read again, not reopened in a loop.
                failures += 1
                progress.contents.withLock { $0.problem = reason }
            }
            if failures > 0 {
                // Read again, and watch on from after that read.
                if let fresh = try? await access.fleetView() {
                    let done = progress.contents.withLock { $0.adopt(fresh.view, revision: fresh.revision) }
                    progress.changed.signal()
                    if done { return }
                }
            }
            if failures > 0 { await EtcdWakeup().wait(until: .now + .milliseconds(50) * min(failures, 10)) }
        }
    }
}
