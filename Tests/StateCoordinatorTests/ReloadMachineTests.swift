import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The follower's reload decisions (``ReloadMachine``) as tables: a run of events, each with the
/// actions expected of it. No file is touched.
@Suite("Reload decisions")
struct ReloadMachineTests {
    /// One event of a scenario.
    enum Step: CustomStringConvertible {
        /// A version verified at the name: version, store, checksum, the file's inode.
        case verified(UInt64, store: String = "A", checksum: String = "c", inode: UInt64 = 1, trigger: ReloadMachine.Trigger = .notified, old: Bool = false)
        /// The version verified was decoded and delivered.
        case delivered(UInt64, store: String = "A", checksum: String = "c", inode: UInt64 = 1)
        case failed(ReloadMachine.Failure)
        case retryFired
        case missing

        var description: String {
            switch self {
            case .verified(let version, let store, let checksum, let inode, let trigger, _):
                "verified v\(version) of \(store) (\(checksum), inode \(inode), \(trigger))"
            case .delivered(let version, _, _, _): "delivered v\(version)"
            case .failed(let failure): "failed: \(failure)"
            case .retryFired: "retry fired"
            case .missing: "missing"
            }
        }
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var since: UInt64? = nil
        var everyVersion = false
        var steps: [(Step, [ReloadMachine.Action])]
        var testDescription: String { name }
    }

    static func header(_ version: UInt64, store: String = "A", checksum: String = "c") -> StateFileHeader {
        StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: 1, store: store, version: version, committedAt: "2026-12-06T00:00:00.000Z",
            writer: WriterIdentity(pid: 1, host: "h", label: "w"), settings: StoreSettings(), stateBytes: 2, checksum: checksum)
    }

    static func status(inode: UInt64, size: Int64 = 400, changed: Int64 = 1) -> FileStatus {
        var status = FileStatus(device: 1, inode: inode, mode: 0o100644, owner: 0, group: 0, size: size, linkCount: 1)
        status.changeTimeNanoseconds = changed
        return status
    }

    static func seen(_ version: UInt64, store: String = "A", checksum: String = "c", inode: UInt64 = 1) -> SeenVersion {
        SeenVersion(status: status(inode: inode), header: header(version, store: store, checksum: checksum))
    }

    static let badFile = SeenVersion(status: status(inode: 9), header: nil)

    static let scenarios: [Scenario] = [
        Scenario(name: "a new version is delivered; the same one again is not", steps: [
            (.verified(0), [.decodeAndDeliver]), (.delivered(0), []),
            (.verified(1, inode: 2), [.decodeAndDeliver]), (.delivered(1, inode: 2), []),
            (.verified(1, inode: 2), []),
        ]),
        Scenario(name: "an older version (a backup restored) is held, not delivered", steps: [
            (.verified(5), [.decodeAndDeliver]), (.delivered(5), []), (.verified(3, checksum: "old", inode: 2), []),
        ]),
        Scenario(name: "a re-created store is a reset, and its first version is delivered whatever its number", steps: [
            (.verified(7), [.decodeAndDeliver]), (.delivered(7), []),
            (.verified(0, store: "B", inode: 2), [.reportReset(previousID: "A", newID: "B"), .decodeAndDeliver]),
        ]),
        Scenario(name: "versions a burst coalesced away are replayed from history when every version is wanted", since: 3, everyVersion: true, steps: [
            (.verified(7), [.replayKept(4...6), .decodeAndDeliver]),
        ]),
        Scenario(name: "without every version, the newest only", since: 3, steps: [(.verified(7), [.decodeAndDeliver])]),
        Scenario(name: "a bad file is reported once: it is held as seen", steps: [
            (.verified(1), [.decodeAndDeliver]), (.delivered(1), []),
            (.failed(.badFile(badFile, unusableVersion: false)), [.reportProblem]),
        ]),
        Scenario(name: "the version delivered verifying again after a problem clears it; an older one does not", steps: [
            (.verified(4), [.decodeAndDeliver]), (.delivered(4), []),
            (.failed(.badFile(badFile, unusableVersion: true)), [.reportProblem]),
            (.verified(3, checksum: "old", inode: 3), []),
            (.failed(.badFile(badFile, unusableVersion: true)), [.reportProblem]),
            (.verified(4, inode: 4), [.verifiedAgain]),
        ]),
        Scenario(name: "an unopenable file is reported once per file in its place", steps: [
            (.failed(.unopenable(status: status(inode: 5))), [.reportProblem]),
            (.failed(.unopenable(status: status(inode: 5))), []),
            (.failed(.unopenable(status: status(inode: 6))), [.reportProblem]),
        ]),
        Scenario(name: "a transient failure is reported once and retried once at a time", steps: [
            (.failed(.transient(.ioFailure)), [.scheduleRetry, .reportProblem]),
            (.failed(.transient(.ioFailure)), []),
            (.retryFired, []),
            (.failed(.transient(.ioFailure)), [.scheduleRetry]),
            (.failed(.transient(.noSpace)), [.reportProblem]),
        ]),
        Scenario(name: "a version verified since makes the same failure worth reporting again", steps: [
            (.failed(.transient(.ioFailure)), [.scheduleRetry, .reportProblem]), (.retryFired, []),
            (.verified(1), [.decodeAndDeliver]), (.delivered(1), []),
            (.failed(.transient(.ioFailure)), [.scheduleRetry, .reportProblem]),
        ]),
        Scenario(name: "the store gone is reported once, and again after it came back", steps: [
            (.verified(1), [.decodeAndDeliver]), (.delivered(1), []),
            (.missing, [.reportGone]), (.missing, []),
            (.verified(0, store: "B", inode: 2), [.reportReset(previousID: "A", newID: "B"), .decodeAndDeliver]),
            (.delivered(0, store: "B", inode: 2), []),
            (.missing, [.reportGone]),
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var machine = ReloadMachine(since: scenario.since, everyVersion: scenario.everyVersion, inlineLimit: 1000)
        for (index, (step, expected)) in scenario.steps.enumerated() {
            let actions: [ReloadMachine.Action]
            switch step {
            case .verified(let version, let store, let checksum, let inode, let trigger, let old):
                actions = machine.verified(
                    Self.header(version, store: store, checksum: checksum), seen: Self.seen(version, store: store, checksum: checksum, inode: inode),
                    trigger: trigger, olderThanGrace: old)
            case .delivered(let version, let store, let checksum, let inode):
                machine.delivered(version: version, storeID: store, checksum: checksum, seen: Self.seen(version, store: store, checksum: checksum, inode: inode))
                actions = []
            case .failed(let failure): actions = machine.failed(failure)
            case .retryFired:
                machine.retryFired()
                actions = []
            case .missing: actions = machine.missing()
            }
            #expect(actions == expected, "step \(index + 1): \(step)")
        }
    }

    /// What to do with the file just opened at the name.
    @Test func lookingAtTheFileAtTheName() {
        var machine = ReloadMachine(since: nil, everyVersion: false, inlineLimit: 1000)
        let first = Self.status(inode: 1)
        #expect(machine.opened(first, isReadAhead: false, inline: true) == .read, "nothing held yet")
        #expect(machine.opened(Self.status(inode: 1, size: 5000), isReadAhead: false, inline: true) == .leaveForQueue)
        #expect(machine.opened(Self.status(inode: 1, size: 5000), isReadAhead: false, inline: false) == .read)
        #expect(machine.opened(first, isReadAhead: true, inline: true) == .useReadAhead)
        _ = machine.verified(Self.header(3), seen: Self.seen(3), trigger: .notified, olderThanGrace: false)
        machine.delivered(version: 3, storeID: "A", checksum: "c", seen: Self.seen(3))
        // The status of the version held: confirmed by its header.
        #expect(machine.opened(first, isReadAhead: false, inline: true) == .peekHeader)
        #expect(machine.peeked(Self.header(3), status: first, inline: true) == .skip)
        // Inode reuse: same device, inode, size and change time, another version (ext4 reuses at once).
        #expect(machine.peeked(Self.header(4), status: first, inline: true) == .read)
        #expect(machine.peeked(nil, status: first, inline: true) == .read)
        // Any other status is read.
        #expect(machine.opened(Self.status(inode: 1, changed: 2), isReadAhead: false, inline: true) == .read)
        #expect(machine.opened(Self.status(inode: 2), isReadAhead: false, inline: true) == .read)
        // A bad file reported is held: seen again, it is left.
        _ = machine.failed(.badFile(Self.badFile, unusableVersion: false))
        #expect(machine.opened(Self.badFile.status, isReadAhead: false, inline: true) == .peekHeader)
        #expect(machine.peeked(nil, status: Self.badFile.status, inline: true) == .skip)
    }

    @Test func aConsistencyCheckThatFindsAnOldChangeCountsAMissedEvent() {
        var machine = ReloadMachine(since: nil, everyVersion: false, inlineLimit: 1000)
        _ = machine.verified(Self.header(1), seen: Self.seen(1), trigger: .consistencyCheck, olderThanGrace: true)
        #expect(machine.statistics.missedEvents == 1)
        machine.delivered(version: 1, storeID: "A", checksum: "c", seen: Self.seen(1))
        _ = machine.verified(Self.header(2), seen: Self.seen(2, inode: 2), trigger: .consistencyCheck, olderThanGrace: false)
        _ = machine.verified(Self.header(3), seen: Self.seen(3, inode: 3), trigger: .notified, olderThanGrace: true)
        #expect(machine.statistics.missedEvents == 1, "a fresh change, or one notified, is no missed event")
        _ = machine.failed(.badFile(Self.badFile, unusableVersion: true))
        #expect(machine.statistics.unusableVersions == 1 && machine.statistics.problems == 1)
    }

    @Test func onlyABurstToFillFromHistoryLeavesTheLoopThread() {
        var every = ReloadMachine(since: nil, everyVersion: true, inlineLimit: 1 << 18)
        #expect(!every.replays(Self.header(0)), "nothing delivered yet: the current version alone")
        _ = every.verified(Self.header(4), seen: Self.seen(4), trigger: .start, olderThanGrace: false)
        every.delivered(version: 4, storeID: "A", checksum: "c", seen: Self.seen(4))
        #expect(!every.replays(Self.header(5)), "the next version: read here")
        #expect(every.replays(Self.header(7)), "5 and 6 to replay first")
        #expect(!every.replays(Self.header(9, store: "B")), "a re-created store starts afresh")
        #expect(!every.replays(nil))
        let since = ReloadMachine(since: 2, everyVersion: true, inlineLimit: 1 << 18)
        #expect(since.replays(Self.header(5)) && !since.replays(Self.header(3)))
        var latest = ReloadMachine(since: nil, everyVersion: false, inlineLimit: 1 << 18)
        latest.delivered(version: 4, storeID: "A", checksum: "c", seen: Self.seen(4))
        #expect(!latest.replays(Self.header(9)), "the newest only: nothing to replay")
    }
}
