import CInotifyTools
import Foundation
import Glibc
import Synchronization
import SystemPackage

/// Tells a writer waiting for the lock that the holder answered its published mutations: one
/// thread per answers directory in this process (``MutationQueue/answers(for:creating:)``),
/// blocked on an inotify instance of its own that watches it for `ID.done` and `ID.failed`,
/// interrupting the waits of the IDs answered.
///
/// Its own instance through the kernel's `inotify_init1(2)`, not libinotifytools': that library
/// keeps one process-wide instance, which belongs to the watch loop's thread. The thread ends
/// after ``idleLifetime`` with nobody waiting. Correctness never depends on it: a writer whose
/// notifier could not be set up (no inotify instance left) waits for the lock, and looks for its
/// answers once it has it.
final class QueueNotifier: Sendable {
    private struct Key: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private struct Registry {
        var notifiers: [Key: QueueNotifier] = [:]
    }

    private static let registry = Mutex(Registry())

    /// How long the thread stays with nobody waiting, for the next wait.
    static var idleLifetime: Duration { .seconds(2) }

    private let key: Key
    private let inotify: FileDescriptor
    /// The interruptions of the waiting IDs (guarded by ``registry``'s lock, as is the thread's end).
    private let waiting = Mutex<[String: LockWaitInterruption]>([:])

    private init(key: Key, inotify: FileDescriptor) {
        self.key = key
        self.inotify = inotify
    }

    /// Interrupts `interruption` once any of `ids` is answered in the answers directory open at `queue`;
    /// returns what ends that (call it when done waiting), or nil when no notifier could be set
    /// up. Register before publishing: an answer is never missed.
    static func notify(_ interruption: LockWaitInterruption, when ids: [String], answeredIn queue: FileDescriptor) -> (@Sendable () -> Void)? {
        guard let status = try? SystemCalls.live.fstat(queue) else { return nil }
        let key = Key(device: status.device, inode: status.inode)
        return registry.withLock { registry -> (@Sendable () -> Void)? in
            let notifier: QueueNotifier
            if let existing = registry.notifiers[key] {
                notifier = existing
            } else {
                guard let made = make(key: key, queue: queue) else { return nil }
                registry.notifiers[key] = made
                notifier = made
            }
            notifier.waiting.withLock { waiting in for id in ids { waiting[id] = interruption } }
            return { Self.registry.withLock { _ in notifier.waiting.withLock { waiting in for id in ids { waiting[id] = nil } } } }
        }
    }

    /// A notifier watching `queue`, its thread started; nil when inotify cannot be had.
    private static func make(key: Key, queue: FileDescriptor) -> QueueNotifier? {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        // The directory this process opened, by its descriptor: no path to be swapped meanwhile.
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
        guard inotify_add_watch(fd, "/proc/self/fd/\(queue.rawValue)", mask) >= 0 else {
            Glibc.close(fd)
            return nil
        }
        let notifier = QueueNotifier(key: key, inotify: FileDescriptor(rawValue: fd))
        let thread = Thread { notifier.serve() }
        thread.name = "StateCoordinator.QueueNotifier"
        thread.start()
        return notifier
    }

    /// The thread: read events, interrupt the answered waits; end when idle.
    private func serve() {
        var buffer = [UInt8](repeating: 0, count: InotifyEventParser.bufferSize)
        var idleSince: ContinuousClock.Instant?
        while true {
            var poller = pollfd(fd: inotify.rawValue, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 250)
            let count = buffer.withUnsafeMutableBytes { Glibc.read(inotify.rawValue, $0.baseAddress, $0.count) }
            if count > 0 {
                for event in InotifyEventParser.events(in: buffer[..<count]) {
                    switch QueueEntry(name: event.name) {
                    case .done(let id)?, .failed(let id)?:
                        waiting.withLock { $0[id] }?.interrupt()
                    default:
                        break
                    }
                }
            } else if count < 0, errno != EAGAIN, errno != EINTR {
                // The instance failed: wake every waiter (each looks for its answer) and end.
                Self.registry.withLock { registry in
                    if registry.notifiers[key] === self { registry.notifiers[key] = nil }
                }
                for interruption in waiting.withLock({ Array($0.values) }) { interruption.interrupt() }
                Glibc.close(inotify.rawValue)
                return
            }
            let ended = Self.registry.withLock { registry -> Bool in
                guard waiting.withLock({ $0.isEmpty }) else {
                    idleSince = nil
                    return false
                }
                let now = ContinuousClock.now
                guard let since = idleSince else {
                    idleSince = now
                    return false
                }
                guard now - since >= Self.idleLifetime else { return false }
                if registry.notifiers[key] === self { registry.notifiers[key] = nil }
                return true
            }
            if ended {
                Glibc.close(inotify.rawValue)
                return
            }
        }
    }
}
