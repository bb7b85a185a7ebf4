import Foundation
import Synchronization

/// Waits, blocking its thread, until every reader selected that was live when the wait started
/// has applied a version (or a newer one), rejected it, or died, or until the timeout.
///
/// Acknowledgements arrive as records renamed into the registry directory, which the wait
/// watches through the watch loop (the store directory's watchers never see them). A death
/// makes no inotify event (the kernel just drops the lock), so the readers still lagging are
/// also looked at every ``checkInterval``: their liveness, and their records in case a
/// notification was lost.
final class AcknowledgementWait: Sendable {
    /// How often lagging readers' liveness is checked.
    static var checkInterval: Duration { .milliseconds(50) }

    private struct Signals {
        var changedIDs: Set<String> = []
        var rereadAll = false
        var cancelled = false
    }

    private let registry: ReaderRegistry
    private let version: UInt64
    private let storeID: String
    private let selection: ReaderSelection
    /// The store's ``StoreSettings/readerUsers``: readers of other users do not count.
    private let readerUsers: Set<UInt32>?
    private let timeout: Duration
    private let loop: WatchLoop
    private let signals = Mutex(Signals())
    /// When the wait ends; every listing after the first stops there too.
    private nonisolated(unsafe) var deadline: ContinuousClock.Instant?
    private let condition = NSCondition()

    init(
        registry: ReaderRegistry, version: UInt64, storeID: String, selection: ReaderSelection, readerUsers: Set<UInt32>?,
        timeout: Duration, loop: WatchLoop = .shared
    ) {
        self.readerUsers = readerUsers
        self.registry = registry
        self.version = version
        self.storeID = storeID
        self.selection = selection
        self.timeout = timeout
        self.loop = loop
    }

    /// Ends the wait at its next look (for a cancelled task); the report says `timedOut`.
    func cancel() {
        signals.withLock { $0.cancelled = true }
        wake()
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    private func notify(_ event: DirectoryEvent) {
        signals.withLock { signals in
            switch event {
            case .changed(let name, _):
                if let id = ReaderRegistry.id(of: name, suffix: ReaderRegistry.recordSuffix)
                    ?? ReaderRegistry.id(of: name, suffix: ReaderRegistry.lockSuffix)
                {
                    signals.changedIDs.insert(id)
                }
            case .overflow, .watchRemoved, .watchLost:
                signals.rereadAll = true
            }
        }
        wake()
    }

    /// The tally of one wait.
    private struct Tally {
        var waiting: [String: RegisteredReader] = [:]
        var applied: [RegisteredReader] = []
        var rejected: [RegisteredReader] = []
        var died: [RegisteredReader] = []
        var ignored: [String: RegisteredReader] = [:]
        var seen: Set<ReaderName> = []
        /// Entries already reported (applied, rejected, died, ignored): never taken again.
        var reported: Set<String> = []

        mutating func wait(for reader: RegisteredReader, _ selection: ReaderSelection) {
            waiting[reader.id] = reader
            for name in selection.wanted ?? [] where name.matches(reader) { seen.insert(name) }
        }
    }

    /// The least time the first listing is given, whatever the timeout: with `--ack-timeout 0`
    /// the wait still reports who has applied the version already.
    static var firstListingBudget: Duration { .seconds(2) }

    func run() -> AcknowledgementReport {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        self.deadline = deadline
        // Watching first: an acknowledgement renamed in after the listing is then not missed.
        let subscription = canonicalPath(of: registry.path).flatMap { path in
            try? loop.subscribe(directory: path) { [weak self] events in events.forEach { self?.notify($0) } }.get()
        }
        defer { if let subscription { loop.unsubscribe(subscription, waitForLoop: false) } }

        var tally = Tally()
        let listing: ReaderListing
        do { listing = try registry.listing(readerUsers: readerUsers, deadline: max(deadline, start + Self.firstListingBudget)) } catch {
            return AcknowledgementReport(
                version: version, storeID: storeID, missingLabels: missingLabels(tally), waited: clock.now - start,
                problem: error.description)
        }
        // Looking at fewer entries than there are proves nothing of "every reader".
        let problem = selection == .all ? listing.incompleteness : nil
        take(listing, into: &tally)
        tally.waiting.keys.sorted().forEach { settle($0, reread: false, in: &tally) }
        var nextCheck = clock.now + Self.checkInterval
        var timedOut = false
        while !(tally.waiting.isEmpty && missingLabels(tally).isEmpty) {
            let now = clock.now
            if now >= deadline || signals.withLock({ $0.cancelled }) {
                timedOut = true
                break
            }
            sleep(until: min(deadline, nextCheck), clock: clock)
            let (changed, all) = signals.withLock { signals -> (Set<String>, Bool) in
                defer {
                    signals.changedIDs = []
                    signals.rereadAll = false
                }
                return (signals.changedIDs, signals.rereadAll)
            }
            if clock.now >= nextCheck || all {
                nextCheck = clock.now + Self.checkInterval
                lookForMissingLabels(in: &tally)
                for id in tally.waiting.keys.sorted() { check(id, in: &tally) }
            } else {
                for id in changed.sorted() where tally.waiting[id] != nil { settle(id, reread: true, in: &tally) }
            }
        }
        let byLabel: (RegisteredReader, RegisteredReader) -> Bool = { ($0.label, $0.id) < ($1.label, $1.id) }
        return AcknowledgementReport(
            version: version, storeID: storeID, applied: tally.applied.sorted(by: byLabel),
            lagging: tally.waiting.values.sorted(by: byLabel), rejected: tally.rejected.sorted(by: byLabel),
            died: tally.died.sorted(by: byLabel), missingLabels: missingLabels(tally), timedOut: timedOut,
            waited: clock.now - start, problem: problem, ignored: tally.ignored.values.sorted(by: byLabel))
    }

    private func sleep(until instant: ContinuousClock.Instant, clock: ContinuousClock) {
        condition.lock()
        defer { condition.unlock() }
        let pending = signals.withLock { !$0.changedIDs.isEmpty || $0.rereadAll || $0.cancelled }
        guard !pending else { return }
        let remaining = clock.now.duration(to: instant)
        guard remaining > .zero else { return }
        _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.seconds))
    }

    private func missingLabels(_ tally: Tally) -> [String] {
        guard let wanted = selection.wanted else { return [] }
        return wanted.subtracting(tally.seen).map(\.description).sorted()
    }

    /// Who of a listing is waited for, and who is not although its label was asked for (another
    /// user's reader, a user the store does not count): reported as ignored, so that an operator
    /// sees a label taken by someone else.
    private func take(_ listing: ReaderListing, into tally: inout Tally, missingOnly: Bool = false) {
        let missing = Set(missingLabels(tally))
        for reader in listing.readers where tally.waiting[reader.id] == nil && !tally.reported.contains(reader.id) {
            if missingOnly, !(selection.wanted ?? []).contains(where: { $0.matches(reader) && missing.contains($0.description) }) {
                continue
            }
            if selection.includes(reader) {
                tally.wait(for: reader, selection)
            } else if selection.wanted?.contains(where: { $0.label == reader.label }) == true {
                tally.ignored[reader.id] = reader
                tally.reported.insert(reader.id)
            }
        }
        for reader in listing.notCounted where selection.wanted.map({ $0.contains { $0.label == reader.label } }) ?? true {
            tally.ignored[reader.id] = reader
            tally.reported.insert(reader.id)
        }
    }

    /// A reader asked for but not live yet may register later: its readers join the wait.
    private func lookForMissingLabels(in tally: inout Tally) {
        guard !missingLabels(tally).isEmpty, let listing = try? registry.listing(readerUsers: readerUsers, deadline: deadline) else { return }
        let known = Set(tally.waiting.keys)
        take(listing, into: &tally, missingOnly: true)
        for id in tally.waiting.keys.sorted() where !known.contains(id) { settle(id, reread: false, in: &tally) }
    }

    /// A periodic look at a waiting reader: dead (removed now), or its record re-read. A reader
    /// whose entry vanished while it lives registers again under a new ID (same pid, host and
    /// registration time): the wait follows it there instead of calling it dead.
    private func check(_ id: String, in tally: inout Tally) {
        settle(id, reread: true, in: &tally)
        // Still waiting: alive? (Read first: a reader that applied and then died has applied.)
        guard let last = tally.waiting[id], !registry.liveness(of: id).mayBeAlive else { return }
        tally.waiting[id] = nil
        let successor = (try? registry.liveReaders(readerUsers: readerUsers, deadline: deadline))?.first {
            $0.id != id && $0.owner == last.owner && $0.processID == last.processID && $0.hostName == last.hostName
                && $0.registeredAt == last.registeredAt
        }
        if let successor {
            tally.waiting[successor.id] = successor
            settle(successor.id, reread: false, in: &tally)
        } else {
            tally.died.append(last)
            tally.reported.insert(id)
        }
    }

    /// Moves a waiting reader to applied or rejected when its record (re-read if asked) says so.
    private func settle(_ id: String, reread: Bool, in tally: inout Tally) {
        guard var reader = tally.waiting[id] else { return }
        if reread {
            switch registry.reading(id, owner: reader.owner) {
            case .reader(let fresh)?:
                // A record not written yet reads as a placeholder: keep what was known.
                if !fresh.label.isEmpty || reader.label.isEmpty {
                    reader = fresh
                    tally.waiting[id] = reader
                }
            case .invalid(let entry)?:
                // Its record is now another user's: whatever it says, it is not this reader's.
                tally.waiting[id] = nil
                reader.problem = entry.reason
                tally.ignored[id] = reader
                tally.reported.insert(id)
                return
            case nil:
                break
            }
        }
        // A reader that registered with no record yet was taken by its ID alone: its label,
        // now known, may not be one asked for.
        guard selection.includes(reader) else {
            tally.waiting[id] = nil
            return
        }
        if reader.hasApplied(version, storeID: storeID) {
            tally.waiting[id] = nil
            tally.applied.append(reader)
            tally.reported.insert(id)
        } else if reader.hasRejected(version, storeID: storeID) {
            tally.waiting[id] = nil
            tally.rejected.append(reader)
            tally.reported.insert(id)
        }
    }
}
