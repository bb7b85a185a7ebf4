import Foundation
import Testing

@testable import StateCoordinator

/// The registry on etcd as keys (``FleetView``) and one wait's tally over it (``FleetTally``):
/// who is live, unknown or dead, and when a lapsed lease means dead.
@Suite("Fleet registry: view and tally")
struct FleetTallyTests {
    let keys = try! EtcdStoreKeys(prefix: "/p", name: "state")
    let storeID = "store-1"

    func record(_ id: String, label: String, host: String, applied: UInt64? = nil, connection: ReaderConnection = .direct) -> [UInt8] {
        var record = ReaderRecord(label: label, pid: 1, host: host, registeredAt: Date(timeIntervalSince1970: 1))
        record.id = id
        record.connection = connection
        if let applied { _ = record.apply(applied, storeID: storeID, at: Date()) }
        return record.encoded()
    }

    func roster(_ id: String, label: String, host: String, connection: ReaderConnection = .direct, ttl: Double = 2) -> [UInt8] {
        FleetRosterEntry(id: id, label: label, pid: 1, host: host, registeredAt: 1, connection: connection, ttl: ttl).encoded()
    }

    /// Host b: a mirror, a direct bot and a bot behind the mirror; host c: a direct bot.
    func fleet() -> FleetView {
        var view = FleetView(keys: keys)
        view.apply(key: keys.mirror(host: "b"), value: FleetHostNote(host: "b", pid: 9, at: 1).encoded())
        for (id, label, host, connection) in [("d1", "bot-b", "b", ReaderConnection.direct), ("m1", "py-b", "b", .mirror), ("d2", "bot-c", "c", .direct)] {
            view.apply(key: keys.roster(id), value: roster(id, label: label, host: host, connection: connection))
            view.apply(key: keys.live(id), value: record(id, label: label, host: host, connection: connection))
        }
        return view
    }

    @Test func aReaderWhoseHostHasNothingLiveIsUnknownAndItsHostUnreachable() {
        var view = fleet()
        view.apply(key: keys.live("d2"), value: nil)
        let listing = view.listing()
        #expect(listing.readers.map(\.label).sorted() == ["bot-b", "py-b"])
        #expect(listing.unreachableHosts.map(\.hostName) == ["c"])
        #expect(listing.unreachableHosts.first?.summary.hasPrefix("host c: no reader reachable") == true)
        #expect(listing.leaseLost.isEmpty)
    }

    @Test func aMirrorsReadersGoUnknownWithItsPresence() {
        var view = fleet()
        view.apply(key: keys.mirror(host: "b"), value: nil)
        view.apply(key: keys.live("m1"), value: nil)
        let listing = view.listing()
        // The direct bot on b vouches for direct readers only: py-b's state rests on the mirror.
        #expect(listing.readers.map(\.label).sorted() == ["bot-b", "bot-c"])
        #expect(listing.unreachableHosts.map(\.hostName) == ["b"])
        #expect(listing.unreachableHosts.first?.summary.hasPrefix("host b: mirror unreachable") == true)
    }

    @Test func aLapsedLeaseOnAHostHeardFromIsDeadOnlyAfterItsTTL() {
        var tally = FleetTally(version: 5, storeID: storeID, selection: .all)
        var view = fleet()
        let start = ContinuousClock.now
        tally.begin(view, now: start)
        #expect(tally.lagging.count == 3)
        // bot-b's lease lapses; b's mirror is still there (its lease may lapse up to a TTL later).
        view.apply(key: keys.live("d1"), value: nil)
        let doneEarly = tally.update(view, now: start + .milliseconds(100))
        #expect(!doneEarly)
        #expect(tally.unknown.keys.sorted() == ["d1"] && tally.died.isEmpty)
        let doneAtTTL = tally.update(view, now: start + .milliseconds(2000))
        #expect(!doneAtTTL)
        #expect(tally.died.isEmpty, "dead only after a whole TTL (2 s) heard from")
        tally.update(view, now: start + .milliseconds(2101))
        #expect(tally.died.map(\.label) == ["bot-b"] && tally.deadIDs == ["d1"])
    }

    @Test func theLongestLeaseOnTheHostIsWaitedOutNotTheReadersOwn() {
        var tally = FleetTally(version: 5, storeID: storeID, selection: .all)
        var view = fleet()
        // Host b's mirror keeps a 30 s lease: cut off, it may vouch for 30 s after bot-b's 2 s lapsed.
        view.apply(key: keys.mirror(host: "b"), value: FleetHostNote(host: "b", pid: 9, at: 1, ttl: 30).encoded())
        let start = ContinuousClock.now
        tally.begin(view, now: start)
        view.apply(key: keys.live("d1"), value: nil)
        tally.update(view, now: start)
        tally.update(view, now: start + .seconds(10))
        #expect(tally.died.isEmpty && tally.unknown.keys.sorted() == ["d1"])
        tally.update(view, now: start + .milliseconds(30_001))
        #expect(tally.died.map(\.label) == ["bot-b"])
    }

    @Test func aHostCutOffWholeStaysUnknownNotDead() {
        var tally = FleetTally(version: 5, storeID: storeID, selection: .all)
        var view = fleet()
        let start = ContinuousClock.now
        tally.begin(view, now: start)
        // The direct bot's lease lapses first, the mirror's 1.5 s later, the bot behind it with it.
        view.apply(key: keys.live("d1"), value: nil)
        tally.update(view, now: start + .milliseconds(100))
        view.apply(key: keys.mirror(host: "b"), value: nil)
        view.apply(key: keys.live("m1"), value: nil)
        tally.update(view, now: start + .milliseconds(1600))
        tally.update(view, now: start + .seconds(60))
        #expect(tally.died.isEmpty)
        #expect(tally.unknown.keys.sorted() == ["d1", "m1"])
        let report = tally.report(view, timedOut: true, waited: .seconds(60), problem: nil)
        #expect(!report.isComplete && report.unreachableHosts.map(\.hostName) == ["b"])
        // It comes back, applies the version: done.
        view.apply(key: keys.mirror(host: "b"), value: FleetHostNote(host: "b", pid: 9, at: 2).encoded())
        view.apply(key: keys.live("d1"), value: record("d1", label: "bot-b", host: "b", applied: 5))
        view.apply(key: keys.live("m1"), value: record("m1", label: "py-b", host: "b", applied: 5, connection: .mirror))
        view.apply(key: keys.live("d2"), value: record("d2", label: "bot-c", host: "c", applied: 6))
        let doneBack = tally.update(view, now: start + .seconds(61))
        #expect(doneBack)
        #expect(tally.applied.map(\.label).sorted() == ["bot-b", "bot-c", "py-b"])
    }

    @Test func aReaderThatClosedIsDeadAtOnceAndAMissingLabelJoinsWhenItRegisters() {
        var tally = FleetTally(version: 5, storeID: storeID, selection: .labels(["bot-b", "late"]))
        var view = fleet()
        let now = ContinuousClock.now
        tally.begin(view, now: now)
        #expect(tally.missingLabels == ["late"])
        view.apply(key: keys.live("d1"), value: nil)
        view.apply(key: keys.roster("d1"), value: nil)
        tally.update(view, now: now)
        #expect(tally.died.map(\.label) == ["bot-b"])
        view.apply(key: keys.roster("x"), value: roster("x", label: "late", host: "c"))
        view.apply(key: keys.live("x"), value: record("x", label: "late", host: "c", applied: 7))
        let doneLate = tally.update(view, now: now)
        #expect(doneLate)
        #expect(tally.applied.map(\.label) == ["late"])
    }

    @Test func keysThatAreNoEntryAreInvalidAndHostNamesAreKeySafe() {
        var view = FleetView(keys: keys)
        view.apply(key: keys.live("a"), value: Array("not json".utf8))
        view.apply(key: keys.live("b"), value: record("someone-else", label: "x", host: "h"))
        #expect(view.listing().invalid.count == 2)
        #expect(EtcdStoreKeys.keySafe("host/../x y") == "host%2F..%2Fx%20y")
        #expect(EtcdStoreKeys.keySafe("") == "%")
        #expect(keys.registryKey(keys.mirror(host: "a/b"))?.name == "a%2Fb")
    }
}
