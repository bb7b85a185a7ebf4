import CInotifyTools
import Glibc
import Synchronization
import SystemPackage

/// A committing thread's watch of its process's answers directory while it waits for its
/// answers alone (``QueueWaiter/answerWindow``): an inotify instance polled by that thread, so
/// that an answer costs one wake-up (``QueueNotifier``'s thread would be a second).
///
/// One per answers directory and process, kept for the process's life: closing an inotify
/// instance waits for the kernel's SRCU grace period (tens of milliseconds, seen with strace),
/// so a watch made per wait would cost more than the wait. One thread uses it at a time; another
/// finds it busy and waits the way every wait after the window does.
final class AnswerWatch: Sendable {
    private struct Key: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private static let watches = Mutex<[Key: AnswerWatch]>([:])

    private let fd: Int32
    private let busy = Mutex(false)

    private init(fd: Int32) { self.fd = fd }

    /// Runs `body` with the watch of the answers directory open at `answers`, unless no inotify
    /// instance can be had or another thread is using it (then `body` gets nil).
    static func using<T>(_ answers: FileDescriptor, _ body: (AnswerWatch?) -> T) -> T {
        guard let status = try? SystemCalls.live.fstat(answers) else { return body(nil) }
        let key = Key(device: status.device, inode: status.inode)
        let watch = watches.withLock { watches -> AnswerWatch? in
            if let existing = watches[key] { return existing }
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else { return nil }
            guard inotify_add_watch(fd, "/proc/self/fd/\(answers.rawValue)", UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)) >= 0 else {
                Glibc.close(fd)
                return nil
            }
            let made = AnswerWatch(fd: fd)
            watches[key] = made
            return made
        }
        guard let watch, watch.busy.withLock({ busy in defer { busy = true }; return !busy }) else { return body(nil) }
        defer { watch.busy.withLock { $0 = false } }
        return body(watch)
    }

    /// Blocks until every one of `ids` has an answer (`ID.done` or `ID.failed` appeared) or
    /// `deadline` passes. Events of earlier waits still queued are read and passed over.
    func wait(for ids: Set<String>, until deadline: ContinuousClock.Instant) {
        var waiting = ids
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !waiting.isEmpty {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(1000, max(1, (remaining.saturatingNanoseconds + 999_999) / 1_000_000)))
            guard poll(&poller, 1, milliseconds) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            for event in InotifyEventParser.events(in: buffer[..<count]) {
                switch QueueEntry(name: event.name) {
                case .done(let id)?, .failed(let id)?: waiting.remove(id)
                default: break
                }
            }
        }
    }
}
