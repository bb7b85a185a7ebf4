import Foundation
import Synchronization
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// A directory deleted and re-created at once may get its inode number back (ext4 hands a freed
/// number on at once): a "watch removed" event must then be believed because the kernel dropped
/// the watch, although the path names the same device and inode. Found as an intermittent failure
/// of the delete-and-recreate test under load: the watcher kept a dead watch and heard nothing more.
@Suite("Watch identity")
struct WatchIdentityTests {
    let dir = TemporaryDirectory()

    final class Events: Sendable {
        let list = Mutex<[WatchEvent<JSONValue>]>([])
        func withLock<T: Sendable>(_ body: (inout [WatchEvent<JSONValue>]) -> T) -> T { list.withLock { body(&$0) } }
    }

    private func follow(_ store: ReadableStateStore<JSONValue>, hub: WatchHub) -> (StateFollower<JSONValue>, Events) {
        let events = Events()
        let follower = StateFollower<JSONValue>(
            handle: store.handle, options: WatchOptions(pollInterval: .milliseconds(20), consistencyCheckInterval: nil),
            since: nil, everyVersion: false, hub: hub
        ) { event in events.withLock { $0.append(event) } }
        follower.start()
        return (follower, events)
    }

    /// A store at version 0 followed through a fake hub, once version 0 was delivered.
    private func following() throws -> (StateStore<JSONValue>, FakeInotify, StateFollower<JSONValue>, Events) {
        let store = try StateStore<JSONValue>.create(directory: dir.path)
        let fake = FakeInotify()
        let (follower, events) = follow(store, hub: fake.makeHub())
        #expect(LockHolderWait.until { self.versions(events) == [0] })
        return (store, fake, follower, events)
    }

    private func versions(_ events: Events) -> [UInt64] {
        events.withLock { $0.compactMap { if case .snapshot(let s) = $0 { s.version } else { nil } } }
    }

    @Test func aWatchTheKernelDroppedIsBelievedGoneEvenIfThePathNamesTheSameInode() throws {
        let (store, fake, follower, events) = try following()
        defer { follower.stop() }
        let path = canonicalPath(dir.path)
        let old = try #require(fake.watch(of: path))
        fake.dropInKernel(old)
        fake.send(InotifyEvent(watch: old, mask: UInt32(IN_IGNORED), name: ""))
        // The hub re-creates its instance and watches the path anew.
        #expect(LockHolderWait.until { fake.cleanups >= 1 && fake.watch(of: path) != nil && follower.isSubscribed })
        try store.update { try $0.set(1, forKey: "x") }
        let new = try #require(fake.watch(of: path))
        fake.send(InotifyEvent(watch: new, mask: UInt32(IN_MOVED_TO), name: "state.json"))
        #expect(LockHolderWait.until { self.versions(events).last == 1 }, "\(self.versions(events))")
    }

    @Test func aStaleEventForAWatchTheKernelStillHoldsOnlyResynchronizes() throws {
        let (_, fake, follower, events) = try following()
        defer { follower.stop() }
        let path = canonicalPath(dir.path)
        let watch = try #require(fake.watch(of: path))
        fake.send(InotifyEvent(watch: watch, mask: UInt32(IN_IGNORED), name: ""))
        #expect(LockHolderWait.until { follower.statistics.resynchronizations >= 1 })
        #expect(fake.cleanups == 0, "no re-creation for a stale event")
        #expect(fake.watch(of: path) == watch)
        #expect(events.withLock { $0.allSatisfy { if case .storeGone = $0 { false } else { true } } })
    }

    @Test func theKernelsWatchListIsReadFromFdinfo() throws {
        let parsed = KernelWatchList.parse(
            "pos:\t0\nflags:\t02004000\nmnt_id:\t15\ninotify wd:3 ino:1a2b sdev:800001 mask:fc6 ignored_mask:0 fhandle-bytes:8\ninotify wd:a ino:ff sdev:800001 mask:4 ignored_mask:0\n")
        #expect(parsed == [.init(watch: 3, inode: 0x1a2b), .init(watch: 10, inode: 0xff)])
        // The live list, per instance.
        // The live list: a real watch of this directory shows with the directory's inode.
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        try #require(fd >= 0)
        defer { close(fd) }
        let watch = inotify_add_watch(fd, dir.path, UInt32(IN_CREATE))
        let inode = try #require(FileManager.default.attributesOfItem(atPath: dir.path)[.systemFileNumber] as? UInt64)
        #expect(KernelWatchList.read()?.contains { $0.contains(.init(watch: watch, inode: inode)) } == true)
    }
}
