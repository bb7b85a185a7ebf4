import Foundation
import Synchronization

@testable import StateCoordinator

/// A scripted libinotifytools for a watch hub: the test decides which events arrive. The hub's
/// own wake-ups (a byte written to the pipe it watches through `/proc/self/fd/N`) are turned
/// into the `IN_MODIFY` events real inotify would give.
final class FakeInotify: Sendable {
    private struct Script {
        var queue: [InotifyEvent] = []
        var watches: [String: Int32] = [:]
        /// Watches the fake kernel dropped (as it does for a deleted directory) while the hub
        /// still has them on record.
        var droppedInKernel: Set<Int32> = []
        var nextWatch: Int32 = 1
        var wakePipe: (fd: Int32, watch: Int32)?
        /// Initializations still to fail with `initializeError`.
        var initializeFailures: Int
        /// While set, reading the descriptor fails with this errno.
        var readError: Int32?
        var initializations = 0
        var cleanups = 0
        var failedReads = 0
    }

    private let script: Mutex<Script>
    let initializeError: Int32?
    let watchError: Int32?

    /// - Parameter initializeFailures: how many initializations fail with `initializeError`
    ///   (every one by default).
    init(initializeError: Int32? = nil, initializeFailures: Int = .max, watchError: Int32? = nil) {
        self.initializeError = initializeError
        self.watchError = watchError
        script = Mutex(Script(initializeFailures: initializeError == nil ? 0 : initializeFailures))
    }

    /// Delivers an event to the hub thread.
    func send(_ event: InotifyEvent) {
        script.withLock { $0.queue.append(event) }
    }

    /// Makes every read of the inotify descriptor fail with `errno` (nil: stop failing).
    func failReads(with errno: Int32?) {
        script.withLock { $0.readError = errno }
    }

    /// Drops a watch in the fake kernel only, as the kernel does when the directory is deleted;
    /// the path may name a directory with the same inode number again (ext4 reuses numbers).
    func dropInKernel(_ watch: Int32) {
        script.withLock { _ = $0.droppedInKernel.insert(watch) }
    }

    /// The watch descriptor given to a path, if it is watched.
    func watch(of path: String) -> Int32? { script.withLock { $0.watches[path] } }

    var initializations: Int { script.withLock { $0.initializations } }
    var cleanups: Int { script.withLock { $0.cleanups } }
    var failedReads: Int { script.withLock { $0.failedReads } }

    var calls: InotifyCalls {
        InotifyCalls(
            initialize: {
                self.script.withLock { script in
                    script.initializations += 1
                    guard script.initializeFailures > 0, let error = self.initializeError else { return nil }
                    script.initializeFailures -= 1
                    return error
                }
            },
            cleanup: {
                self.script.withLock { script in
                    script.cleanups += 1
                    script.watches = [:]
                    script.nextWatch = 1  // a new instance numbers its watches from 1 again, as the kernel does
                    script.droppedInKernel = []
                    script.wakePipe = nil
                }
            },
            watch: { path, _ in
                let isWakePipe = path.hasPrefix("/proc/self/fd/")
                if let error = self.watchError, !isWakePipe { return .failure(.init(errno: error)) }
                return .success(
                    self.script.withLock { script in
                        let watch = script.nextWatch
                        script.nextWatch += 1
                        script.watches[path] = watch
                        if isWakePipe, let fd = Int32(path.dropFirst("/proc/self/fd/".count)) { script.wakePipe = (fd, watch) }
                        return watch
                    })
            },
            nextEvent: { self.nextEvent() },
            identify: InotifyCalls.live.identify,
            kernelWatches: {
                let (live, all) = self.script.withLock { script in
                    (script.watches.filter { !script.droppedInKernel.contains($0.value) }, script.watches)
                }
                func listed(_ watches: [String: Int32]) -> Set<InotifyCalls.KernelWatch> {
                    Set(watches.compactMap { path, watch in
                        InotifyCalls.live.identify(path).map { InotifyCalls.KernelWatch(watch: watch, inode: $0.inode) }
                    })
                }
                // First another instance of the process (the application's own) that watches the
                // same directories under the same numbers, dropped ones included: the hub must
                // look only at its own instance, the one holding its wake watch.
                return [listed(all.filter { !$0.key.hasPrefix("/proc/self/fd/") }), listed(live)]
            })
    }

    /// A hub that runs on this fake.
    func makeHub() -> WatchHub { WatchHub(calls: calls) }

    /// Blocks until an event, like the library with a timeout of -1.
    private func nextEvent() -> InotifyNext {
        while true {
            let (event, error, wake) = script.withLock { script -> (InotifyEvent?, Int32?, (fd: Int32, watch: Int32)?) in
                if let error = script.readError {
                    script.failedReads += 1
                    return (nil, error, nil)
                }
                return (script.queue.isEmpty ? nil : script.queue.removeFirst(), nil, script.wakePipe)
            }
            if let error { return .failed(errno: error) }
            if let event { return .event(event) }
            if let (fd, watch) = wake {
                var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&pollFD, 1, 2) > 0 { return .event(InotifyEvent(watch: watch, mask: UInt32(IN_MODIFY), name: "")) }
            } else {
                usleep(2_000)
            }
        }
    }
}
