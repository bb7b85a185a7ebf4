import Foundation
import Synchronization

@testable import StateCoordinator

/// A scripted libinotifytools for a watch hub: the test decides which events arrive. The hub's
/// own wake-ups (a byte written to the pipe it watches through `/proc/self/fd/N`) are turned
/// into the `IN_MODIFY` events real inotify would give.
final class FakeInotify: Sendable {
    private let queue = Mutex<[InotifyEvent]>([])
    private let watches = Mutex<[String: Int32]>([:])
    private let wakePipe = Mutex<(fd: Int32, watch: Int32)?>(nil)
    let initializeError: Int32?
    let watchError: Int32?

    init(initializeError: Int32? = nil, watchError: Int32? = nil) {
        self.initializeError = initializeError
        self.watchError = watchError
    }

    /// Delivers an event to the hub thread.
    func send(_ event: InotifyEvent) {
        queue.withLock { $0.append(event) }
    }

    /// The watch descriptor given to a path, if it is watched.
    func watch(of path: String) -> Int32? { watches.withLock { $0[path] } }

    var calls: InotifyCalls {
        InotifyCalls(
            initialize: { self.initializeError },
            watch: { path, _ in
                let isWakePipe = path.hasPrefix("/proc/self/fd/")
                if let error = self.watchError, !isWakePipe { return .failure(.init(errno: error)) }
                let watch = self.watches.withLock { watches in
                    let watch = Int32(watches.count + 1)
                    watches[path] = watch
                    return watch
                }
                if isWakePipe, let fd = Int32(path.dropFirst("/proc/self/fd/".count)) {
                    self.wakePipe.withLock { $0 = (fd, watch) }
                }
                return .success(watch)
            },
            removeWatch: { _ in },
            nextEvent: { self.nextEvent() })
    }

    /// A hub that runs on this fake.
    func makeHub() -> WatchHub { WatchHub(calls: calls) }

    private func nextEvent() -> InotifyEvent {
        while true {
            if let event = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return event }
            if let (fd, watch) = wakePipe.withLock({ $0 }) {
                var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&pollFD, 1, 2) > 0 { return InotifyEvent(watch: watch, mask: UInt32(IN_MODIFY), name: "") }
            } else {
                usleep(2_000)
            }
        }
    }
}
