import Foundation
import Synchronization
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// A watch the kernel dropped (its directory deleted) keeps its record in libinotifytools, which
/// would answer a later watch of the same path with the dead descriptor: the loop watches the
/// directory again under a spelling of its own, and hears the new watch. And the events read from
/// the instance's descriptor are parsed as the kernel lays them out.
@Suite("Watch identity", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct WatchIdentityTests {
    let dir = TemporaryDirectory()

    final class Events: Sendable {
        let list = Mutex<[WatchEvent<JSONValue>]>([])
        func withLock<T: Sendable>(_ body: (inout [WatchEvent<JSONValue>]) -> T) -> T { list.withLock { body(&$0) } }
    }

    private func follow(_ store: ReadableStateStore<JSONValue>, loop: WatchLoop) -> (StateFollower<JSONValue>, Events) {
        let events = Events()
        let follower = StateFollower<JSONValue>(
            handle: store.handle, options: WatchOptions(pollInterval: .milliseconds(20), consistencyCheckInterval: nil),
            since: nil, everyVersion: false, loop: loop
        ) { event in events.withLock { $0.append(event) } }
        follower.start()
        return (follower, events)
    }

    /// A store at version 0 followed through a fake loop, once version 0 was delivered.
    private func following() throws -> (StateStore<JSONValue>, FakeInotify, StateFollower<JSONValue>, Events) {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let fake = FakeInotify()
        let (follower, events) = follow(store, loop: fake.makeLoop())
        #expect(LockHolderWait.until { self.versions(events) == [0] })
        return (store, fake, follower, events)
    }

    private func versions(_ events: Events) -> [UInt64] {
        events.withLock { $0.compactMap { if case .snapshot(let s) = $0 { s.version } else { nil } } }
    }

    @Test func aDirectoryWatchedAgainAfterItsWatchDiedIsHeardUnderANewSpelling() throws {
        let (store, fake, follower, events) = try following()
        defer { follower.stop() }
        let path = canonicalPath(dir.path)
        let old = try #require(fake.watch(of: path))
        // The kernel drops the watch (as for a deleted directory); the follower re-arms at once, since
        // the directory is there.
        fake.send(InotifyEvent(watch: old, mask: UInt32(IN_IGNORED), name: ""))
        #expect(LockHolderWait.until { fake.watch(of: path) != old && follower.isSubscribed })
        // (Its parent is watched too, meanwhile, for the directory's return.)
        #expect(fake.spellings.filter { $0.hasPrefix(path) } == [path, path + "/."], "no stale record can shadow the new watch")
        #expect(fake.cleanups == 0, "no new instance needed")
        try store.update { try $0.set(1, forKey: "x") }
        let new = try #require(fake.watch(of: path))
        fake.send(InotifyEvent(watch: new, mask: UInt32(IN_MOVED_TO), name: "state.json"))
        #expect(LockHolderWait.until { self.versions(events).last == 1 }, "\(self.versions(events))")
        // The dead watch's late events reach nobody.
        fake.send(InotifyEvent(watch: old, mask: UInt32(IN_MOVED_TO), name: "state.json"))
        #expect(follower.isSubscribed)
    }

    @Test func eventsAreParsedAsTheKernelLaysThemOut() {
        func event(_ watch: Int32, _ mask: UInt32, _ name: String, padTo length: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: watch.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }  // cookie
            withUnsafeBytes(of: UInt32(length).littleEndian) { bytes += $0 }
            return bytes + Array(name.utf8) + [UInt8](repeating: 0, count: length - name.utf8.count)
        }
        let bytes =
            event(3, UInt32(IN_MOVED_TO), "state.json", padTo: 16) + event(-1, UInt32(IN_Q_OVERFLOW), "", padTo: 0)
            + event(4, UInt32(IN_IGNORED), "", padTo: 0) + event(5, UInt32(IN_CREATE), "ü", padTo: 16)
        #expect(
            InotifyEventParser.events(in: bytes[...]) == [
                InotifyEvent(watch: 3, mask: UInt32(IN_MOVED_TO), name: "state.json"),
                InotifyEvent(watch: -1, mask: UInt32(IN_Q_OVERFLOW), name: ""),
                InotifyEvent(watch: 4, mask: UInt32(IN_IGNORED), name: ""),
                InotifyEvent(watch: 5, mask: UInt32(IN_CREATE), name: "ü"),
            ])
        // A truncated last event (which the kernel never gives) is dropped, not read past.
        #expect(InotifyEventParser.events(in: bytes.dropLast(3)).count == 3)
        #expect(InotifyEventParser.events(in: [1, 2, 3][...]).isEmpty)
    }
}
