import Glibc
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// The follower's decisions about when to look and how to learn of changes (``FollowMachine``) as
/// tables: a run of events, each with the actions expected of it. Nothing is watched or read.
@Suite("Follow decisions")
struct FollowMachineTests {
    typealias Event = FollowMachine.Event
    typealias Action = FollowMachine.Action

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var settings = FollowMachineTests.settings
        var steps: [(Event, [Action])]
        var testDescription: String { name }
    }

    static let settings: FollowMachine.Settings = {
        var settings = FollowMachine.Settings()
        settings.pollInterval = .milliseconds(100)
        settings.consistencyCheckInterval = .seconds(1)
        settings.inotifyRetryInterval = .seconds(5)
        return settings
    }()

    static let polling: FollowMachine.Settings = {
        var settings = FollowMachineTests.settings
        settings.forcePolling = true
        return settings
    }()

    static let everyVersion: FollowMachine.Settings = {
        var settings = FollowMachineTests.settings
        settings.readsAhead = false
        return settings
    }()

    static let renamed = DirectoryEvent.changed(name: "state.json", mask: UInt32(IN_MOVED_TO))
    static func closed(_ name: String) -> DirectoryEvent { .changed(name: name, mask: UInt32(IN_CLOSE_WRITE)) }
    static let gone = WatchUnavailable.watchFailed(directory: "/srv/bot", errno: ENOENT)
    static let exhausted = WatchUnavailable.initializationFailed(errno: EMFILE)
    static let consistency = Action.arm(.consistencyCheck, every: .seconds(1))
    static let poll = Action.arm(.poll, every: .milliseconds(100))

    /// Started and armed: inotify, the consistency check, the first reload finished.
    static let armed: [(Event, [Action])] = [
        (.start(unnotified: nil), [.subscribe(.directory)]),
        (.subscribed(.directory, id: 1), [consistency, .run(.reload(.start))]),
        (.jobFinished(retry: false), []),
    ]

    static let scenarios: [Scenario] = [
        Scenario(name: "nothing is read before the directory's watch is armed", steps: [
            (.start(unnotified: nil), [.subscribe(.directory)]),
            (.timer(.consistencyCheck), []),
            (.subscribed(.directory, id: 1), [consistency, .run(.reload(.start))]),
        ]),
        Scenario(name: "polling when asked: no mode change is announced, no retry of inotify", settings: polling, steps: [
            (.start(unnotified: nil), [poll, .run(.reload(.start))]),
            (.jobFinished(retry: false), []),
            (.timer(.poll), [.run(.reload(.poll))]),
        ]),
        Scenario(name: "a network file system is polled and says why, without retrying inotify", steps: [
            (.start(unnotified: "on NFS"), [
                .log("watching by polling", reason: "on NFS"), .changeMode(.polling(reason: "on NFS")), poll, .run(.reload(.start)),
            ]),
        ]),
        Scenario(name: "exhausted inotify polls, then returns to inotify and resynchronizes", steps: [
            (.start(unnotified: nil), [.subscribe(.directory)]),
            (.subscribeFailed(.directory, exhausted), [
                .log("watching by polling", reason: exhausted.description), .changeMode(.polling(reason: exhausted.description)), poll,
                .arm(.inotifyRetry, every: .seconds(5)), .run(.reload(.start)),
            ]),
            (.jobFinished(retry: false), []),
            (.timer(.inotifyRetry), [.subscribe(.directory)]),
            (.subscribeFailed(.directory, exhausted), []),
            (.timer(.inotifyRetry), [.subscribe(.directory)]),
            (.subscribed(.directory, id: 4), [
                .cancel(.inotifyRetry), .log("watching by inotify again", reason: nil), .changeMode(.inotify), .cancel(.poll), consistency,
                .run(.reload(.resynchronize)),
            ]),
        ]),
        Scenario(name: "the state file's name is reloaded once per read; notifications during a reload queue one more", steps: armed + [
            (.directory(id: 1, [renamed, renamed]), [.run(.reload(.notified))]),
            (.directory(id: 1, [renamed]), []),
            (.directory(id: 1, [renamed]), []),
            (.jobFinished(retry: false), [.run(.reload(.notified))]),
            (.jobFinished(retry: false), []),
        ]),
        Scenario(name: "a temp file closed after the last rename is read ahead; one renamed in the same read is not", steps: armed + [
            (.directory(id: 1, [closed(".state.json.a"), renamed]), [.run(.reload(.notified))]),
            (.jobFinished(retry: false), []),
            (.directory(id: 1, [renamed, closed(".state.json.b")]), [.run(.reload(.notified))]),
            (.directory(id: 1, [closed(".state.json.c")]), []),
            (.jobFinished(retry: false), [.run(.readAhead(name: ".state.json.c"))]),
            (.jobFinished(retry: false), []),
        ]),
        Scenario(name: "no read ahead when every version is wanted; other stores' and history's names are ignored", settings: everyVersion, steps: armed + [
            (.directory(id: 1, [closed(".state.json.a"), closed("other.json"), closed(".history")]), []),
        ]),
        Scenario(name: "an overflow resynchronizes after the change before it", steps: armed + [
            (.directory(id: 1, [renamed, .overflow]), [.run(.reload(.notified))]),
            (.jobFinished(retry: false), [.run(.reload(.resynchronize))]),
        ]),
        Scenario(name: "events of a subscription let go are ignored", steps: armed + [
            (.directory(id: 7, [renamed]), []),
        ]),
        Scenario(name: "a directory removed: its parent is watched before the reload that reports it gone", steps: armed + [
            (.directory(id: 1, [.watchRemoved]), [.arm(.rearm, every: .milliseconds(100)), .subscribe(.parent)]),
            (.timer(.rearm), [.subscribe(.directory)]),
            (.subscribeFailed(.directory, gone), []),
            (.subscribed(.parent, id: 2), [.run(.reload(.resynchronize)), .subscribe(.directory)]),
            (.subscribeFailed(.directory, gone), []),
            (.jobFinished(retry: false), []),
            (.parent(id: 2, returned: false, ended: false), []),
            (.parent(id: 2, returned: true, ended: false), [.subscribe(.directory)]),
            (.subscribed(.directory, id: 3), [.cancel(.rearm), .unsubscribe(2), .run(.reload(.resynchronize))]),
        ]),
        Scenario(name: "a directory that came back before its parent was watched is watched at once", steps: armed + [
            (.directory(id: 1, [.watchRemoved]), [.arm(.rearm, every: .milliseconds(100)), .subscribe(.parent)]),
            (.subscribed(.parent, id: 2), [.run(.reload(.resynchronize)), .subscribe(.directory)]),
            (.subscribed(.directory, id: 3), [.cancel(.rearm), .unsubscribe(2)]),
            (.jobFinished(retry: false), [.run(.reload(.resynchronize))]),
        ]),
        Scenario(name: "a late failure answer does not forget the parent's watch", steps: armed + [
            (.directory(id: 1, [.watchRemoved]), [.arm(.rearm, every: .milliseconds(100)), .subscribe(.parent)]),
            (.subscribed(.parent, id: 2), [.run(.reload(.resynchronize)), .subscribe(.directory)]),
            (.subscribeFailed(.parent, gone), []),
            (.subscribed(.directory, id: 3), [.cancel(.rearm), .unsubscribe(2)]),
        ]),
        Scenario(name: "a store whose directory is missing at the start follows inotify and waits for it", steps: [
            (.start(unnotified: nil), [.subscribe(.directory)]),
            (.subscribeFailed(.directory, gone), [consistency, .arm(.rearm, every: .milliseconds(100)), .subscribe(.parent)]),
            (.subscribeFailed(.parent, gone), [.run(.reload(.start))]),
            (.timer(.rearm), [.subscribe(.directory)]),
            (.timer(.rearm), []),
        ]),
        Scenario(name: "a lost watch polls, reports why, and retries inotify", steps: armed + [
            (.directory(id: 1, [.watchLost(exhausted)]), [
                .log("inotify lost; watching by polling", reason: exhausted.description), .changeMode(.polling(reason: exhausted.description)),
                .cancel(.consistencyCheck), poll, .arm(.inotifyRetry, every: .seconds(5)), .run(.reload(.resynchronize)),
            ]),
            (.timer(.consistencyCheck), []),
        ]),
        Scenario(name: "a transient failure is retried once after the poll interval", steps: armed + [
            (.directory(id: 1, [renamed]), [.run(.reload(.notified))]),
            (.jobFinished(retry: true), [.arm(.retry, every: .milliseconds(100))]),
            (.directory(id: 1, [renamed]), [.run(.reload(.notified))]),
            (.jobFinished(retry: true), []),
            (.timer(.retry), [.cancel(.retry), .run(.reload(.retry))]),
            (.timer(.retry), []),
        ]),
        Scenario(name: "the consistency check and a notification queue as two reloads", steps: armed + [
            (.timer(.consistencyCheck), [.run(.reload(.consistencyCheck))]),
            (.directory(id: 1, [renamed]), []),
            (.timer(.consistencyCheck), []),
            (.jobFinished(retry: false), [.run(.reload(.notified))]),
        ]),
        Scenario(name: "stopping lets go of the watch and the timers; late answers are let go too", steps: armed + [
            (.stop, [.unsubscribe(1), .cancel(.consistencyCheck)]),
            (.directory(id: 1, [renamed]), []),
            (.subscribed(.parent, id: 9), [.unsubscribe(9)]),
            (.timer(.consistencyCheck), []),
            (.jobFinished(retry: true), []),
        ]),
        Scenario(name: "a second answer for the directory is let go", steps: [
            (.start(unnotified: nil), [.subscribe(.directory)]),
            (.subscribed(.directory, id: 1), [consistency, .run(.reload(.start))]),
            (.subscribed(.directory, id: 2), [.unsubscribe(2)]),
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var machine = FollowMachine(scenario.settings)
        for (index, (event, expected)) in scenario.steps.enumerated() {
            let actions = machine.handle(event)
            #expect(actions == expected, "step \(index + 1): \(event)")
        }
    }

    @Test func modeAndSubscriptionFollowTheEvents() {
        var machine = FollowMachine(Self.settings)
        _ = machine.handle(.start(unnotified: nil))
        _ = machine.handle(.subscribeFailed(.directory, Self.exhausted))
        #expect(machine.mode == .polling(reason: Self.exhausted.description))
        #expect(machine.timers == [.poll, .inotifyRetry])
        _ = machine.handle(.timer(.inotifyRetry))
        _ = machine.handle(.subscribed(.directory, id: 5))
        #expect(machine.mode == .inotify && machine.directory == .active(5))
        #expect(machine.timers == [.consistencyCheck])
        #expect(machine.resynchronizations == 1)
        _ = machine.handle(.stop)
        #expect(machine.stopped && machine.timers.isEmpty && machine.directory == .none)
    }
}
