import Foundation
import Synchronization

/// Waits until every selected reader of a store on etcd, on every host, has applied a version
/// (or a newer one), rejected it, or died; or until the timeout (<doc:FleetAcrossHosts>).
///
/// One range read of the registry (`readers/`), then a watch of that prefix from the revision
/// after it: each acknowledgement is a record put, each death a lease's keys deleted, each
/// unreachable host its mirror's presence deleted, and every one of them arrives as an event
/// (no polling). A reader whose host is unreachable is waited for as unknown, and comes back
/// into the wait when its host does. The watch is reopened on another member when its member
/// fails or falls silent, and the registry read again when its revision was compacted.
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
            var revision: Int64
        }
        let contents: Mutex<Contents>
        init(_ contents: Contents) { self.contents = Mutex(contents) }
    }

    /// How often the tally looks at the time (dead readers), besides each watch response.
    static var tick: Duration { .milliseconds(100) }

    func run() async -> AcknowledgementReport {
        let clock = ContinuousClock()
        let start = clock.now
        let first: (view: FleetView, revision: Int64)
        do {
            first = try await access.fleetView()
        } catch {
            var report = AcknowledgementReport(version: version, storeID: storeID, waited: clock.now - start)
            report.problem = "the reader registry on etcd could not be read: \(error.reason)"
            return report
        }
        var tally = FleetTally(version: version, storeID: storeID, selection: selection)
        tally.begin(first.view, now: clock.now)
        let progress = Progress(Progress.Contents(view: first.view, tally: tally, revision: first.revision))
        var timedOut = false
        if !tally.isDone {
            timedOut = await follow(progress, until: start + timeout)
        }
        let (view, final) = progress.contents.withLock { ($0.view, $0.tally) }
        if removesDead, !final.deadIDs.isEmpty { await access.removeDeadReaders(final.deadIDs) }
        return final.report(view, timedOut: timedOut && !final.isDone, waited: clock.now - start, problem: nil)
    }

    /// Watches the registry until the tally is done (false) or the deadline passes (true).
    private func follow(_ progress: Progress, until deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask(executorPreference: EtcdTaskExecutor.shared) {
                await watch(progress)
                return false
            }
            // Time moves the tally too: a reader whose lease is gone is taken for dead after its TTL.
            group.addTask(executorPreference: EtcdTaskExecutor.shared) {
                let wakeup = EtcdWakeup()
                while !Task.isCancelled {
                    await wakeup.wait(until: .now + Self.tick)
                    if progress.contents.withLock({ $0.tally.update($0.view, now: .now) }) { return false }
                }
                return false
            }
            group.addTask(executorPreference: EtcdTaskExecutor.shared) {
                let wakeup = EtcdWakeup()
                while !Task.isCancelled, ContinuousClock.now < deadline { await wakeup.wait(until: deadline) }
                return true
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
    }

    /// Follows the prefix, reopening as needed, until the tally is done or the task is cancelled.
    private func watch(_ progress: Progress) async {
        let keys = access.keys
        let idle = access.client.configuration.watchIdleTimeout
        var failures = 0
        while !Task.isCancelled {
            let from = progress.contents.withLock { $0.revision } + 1
            let reread = Mutex(false)
            do throws(EtcdFailure) {
                try await access.client.call(streaming: true) { call in
                    try await EtcdWatchSession.run(
                        call, key: keys.readersPrefix, rangeEnd: EtcdStoreKeys.rangeEnd(keys.readersPrefix), startRevision: from,
                        idleTimeout: idle
                    ) { response in
                        if response.canceled {
                            // Compacted past our revision, or refused: read the registry again.
                            reread.withLock { $0 = true }
                            return .finish
                        }
                        let done = progress.contents.withLock { contents -> Bool in
                            for event in response.events {
                                contents.view.apply(key: Array(event.kv.key), value: event.type == .delete ? nil : Array(event.kv.value))
                            }
                            contents.revision = max(contents.revision, response.header.revision)
                            return contents.tally.update(contents.view, now: .now)
                        }
                        return done ? .finish : .more
                    }
                }
                failures = 0
            } catch {
                failures += 1
            }
            if Task.isCancelled || progress.contents.withLock({ $0.tally.isDone }) { return }
            if reread.withLock({ $0 }) || failures > 0 {
                if let fresh = try? await access.fleetView() {
                    let done = progress.contents.withLock { contents -> Bool in
                        contents.view = fresh.view
                        contents.revision = fresh.revision
                        return contents.tally.update(contents.view, now: .now)
                    }
                    if done { return }
                }
            }
            if failures > 0 { await EtcdWakeup().wait(until: .now + .milliseconds(50) * min(failures, 10)) }
        }
    }
}
