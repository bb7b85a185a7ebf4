#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemShims
import Foundation
import Synchronization

/// What a directory watch reports to its subscribers.
enum DirectoryEvent: Sendable, Equatable {
    /// Something happened to `name` inside the directory (`mask` has the `IN_*` bits).
    case changed(name: String, mask: UInt32)
    /// The kernel's event queue overflowed: events were lost, reload everything.
    case overflow
    /// The directory was deleted or moved away: its watch is gone.
    case watchRemoved
}

/// The one place in the process that talks to libinotifytools.
///
/// Why a hub: libinotifytools keeps a single, process-global inotify instance in static state
/// and is not thread-safe, and a user may have only 128 inotify instances by default
/// (`fs.inotify.max_user_instances`). So one dedicated thread owns the library: it adds and
/// removes watches on request, reference-counted per directory, and fans every event out to the
/// subscribers of that directory. Handlers run on the hub thread and must only hand work off.
///
/// The thread blocks in `inotifytools_next_event`. To wake it for a new subscription it also
/// watches its own pipe (through `/proc/self/fd`): writing a byte there is an `IN_MODIFY` event.
final class WatchHub: Sendable {
    /// The process-wide hub.
    static let shared = WatchHub(calls: .live)

    typealias Handler = @Sendable (DirectoryEvent) -> Void

    /// Events a directory watch asks for: the state file renamed in (`IN_MOVED_TO`), created or
    /// written in place by a foreign tool (`IN_CREATE`, `IN_CLOSE_WRITE`), deleted, and the
    /// directory itself going away.
    static let directoryMask = UInt32(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    private struct DirectoryWatch {
        var watch: Int32
        var subscribers: [UInt64: Handler]
    }

    private enum Command {
        case subscribe(id: UInt64, directory: String, handler: Handler, reply: Reply)
        case unsubscribe(id: UInt64, reply: Reply)
    }

    /// A one-shot reply from the hub thread, which any number of threads may wait for.
    final class Reply: Sendable {
        private let result = Mutex<Result<Void, WatchUnavailable>?>(nil)
        private let done = DispatchGroup()
        init() { done.enter() }
        func send(_ value: Result<Void, WatchUnavailable>) {
            result.withLock { $0 = value }
            done.leave()
        }
        func wait() -> Result<Void, WatchUnavailable> {
            done.wait()
            return result.withLock { $0! }
        }
    }

    private struct State {
        /// Set by the first subscriber, which starts the thread; later ones wait on it.
        var startup: Reply?
        var commands: [Command] = []
        var wakeFD: Int32 = -1
        /// The hub thread, once running.
        var thread: pthread_t?
        var nextID: UInt64 = 1
    }

    private let calls: InotifyCalls
    private let state = Mutex(State())

    init(calls: InotifyCalls) {
        self.calls = calls
    }

    /// Watches `directory` (a canonical path) and calls `handler` on the hub thread for each of
    /// its events. Returns once the watch is armed, so nothing after the return can be missed.
    func subscribe(directory: String, handler: @escaping Handler) -> Result<UInt64, WatchUnavailable> {
        if case .failure(let error) = startIfNeeded() { return .failure(error) }
        let reply = Reply()
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.commands.append(.subscribe(id: state.nextID, directory: directory, handler: handler, reply: reply))
            return state.nextID
        }
        wake()
        return reply.wait().map { id }
    }

    /// Stops delivering to a subscription; the directory's watch is removed with its last one.
    ///
    /// - Parameter waitForHub: return only once the hub has done so (never on the hub thread
    ///   itself, where waiting would deadlock). Without waiting, the handler may still be called a
    ///   last time; subscribers that are being torn down ignore that.
    func unsubscribe(_ id: UInt64, waitForHub: Bool = true) {
        let reply = Reply()
        let onHubThread = state.withLock { state -> Bool in
            state.commands.append(.unsubscribe(id: id, reply: reply))
            return state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
        wake()
        if waitForHub && !onHubThread { _ = reply.wait() }
    }

    private func wake() {
        let fd = state.withLock { $0.wakeFD }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    /// Starts the hub thread on first use; every caller returns once it is ready (or failed).
    private func startIfNeeded() -> Result<Void, WatchUnavailable> {
        let (startup, mustStart) = state.withLock { state -> (Reply, Bool) in
            if let startup = state.startup { return (startup, false) }
            let startup = Reply()
            state.startup = startup
            return (startup, true)
        }
        if mustStart {
            let thread = Thread { [self] in run(ready: startup) }
            thread.name = "StateCoordinator.WatchHub"
            thread.start()
        }
        return startup.wait()
    }

    /// The hub thread: initialize, arm the wake pipe, then dispatch events forever.
    private func run(ready: Reply) {
        var pipeFDs: [Int32] = [-1, -1]
        if let errno = calls.initialize() {
            return fail(ready, WatchUnavailable.initializationFailed(errno: errno))
        }
        guard statecoordinator_pipe2(&pipeFDs, O_CLOEXEC | O_NONBLOCK) == 0 else {
            return fail(ready, .initializationFailed(errno: errno))
        }
        let wakeWatch: Int32
        switch calls.watch("/proc/self/fd/\(pipeFDs[0])", UInt32(IN_MODIFY)) {
        case .success(let watch): wakeWatch = watch
        case .failure(let failure): return fail(ready, .watchFailed(directory: "/proc/self/fd", errno: failure.errno))
        }
        state.withLock { state in
            state.wakeFD = pipeFDs[1]
            state.thread = pthread_self()
        }
        ready.send(.success(()))
        var directories: [String: DirectoryWatch] = [:]
        while true {
            guard let event = calls.nextEvent() else { continue }  // EINTR: just wait again
            if event.watch == wakeWatch {
                drain(pipeFDs[0])
                perform(takeCommands(), on: &directories)
            } else {
                dispatch(event, on: &directories)
            }
        }
    }

    private func fail(_ ready: Reply, _ reason: WatchUnavailable) {
        ready.send(.failure(reason))
    }

    private func drain(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 512)
        while read(fd, &buffer, buffer.count) > 0 {}
    }

    private func takeCommands() -> [Command] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    private func perform(_ commands: [Command], on directories: inout [String: DirectoryWatch]) {
        for command in commands {
            switch command {
            case .subscribe(let id, let directory, let handler, let reply):
                if directories[directory] == nil {
                    switch calls.watch(directory, Self.directoryMask) {
                    case .success(let watch): directories[directory] = DirectoryWatch(watch: watch, subscribers: [:])
                    case .failure(let failure):
                        reply.send(.failure(.watchFailed(directory: directory, errno: failure.errno)))
                        continue
                    }
                }
                directories[directory]?.subscribers[id] = handler
                reply.send(.success(()))
            case .unsubscribe(let id, let reply):
                for (directory, entry) in directories where entry.subscribers[id] != nil {
                    directories[directory]?.subscribers[id] = nil
                    if directories[directory]?.subscribers.isEmpty == true {
                        calls.removeWatch(entry.watch)
                        directories[directory] = nil
                    }
                }
                reply.send(.success(()))
            }
        }
    }

    private func dispatch(_ event: InotifyEvent, on directories: inout [String: DirectoryWatch]) {
        if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
            for entry in directories.values { entry.subscribers.values.forEach { $0(.overflow) } }
            return
        }
        guard let (directory, entry) = directories.first(where: { $0.value.watch == event.watch }) else { return }
        if event.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            // The directory is gone or elsewhere: its watch no longer reports on this path.
            calls.removeWatch(entry.watch)
            directories[directory] = nil
            entry.subscribers.values.forEach { $0(.watchRemoved) }
            return
        }
        entry.subscribers.values.forEach { $0(.changed(name: event.name, mask: event.mask)) }
    }
}

/// Why inotify cannot serve a directory; the reader then polls and reports this reason.
enum WatchUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    case initializationFailed(errno: Int32)
    case watchFailed(directory: String, errno: Int32)

    var description: String {
        switch self {
        case .initializationFailed(let errno) where errno == EMFILE:
            return "inotify_init failed: too many inotify instances for this user (raise fs.inotify.max_user_instances)"
        case .initializationFailed(let errno):
            return "inotify_init failed: \(String(cString: strerror(errno)))"
        case .watchFailed(let directory, let errno) where errno == ENOSPC:
            return "inotify_add_watch on \(directory) failed: too many watches (raise fs.inotify.max_user_watches)"
        case .watchFailed(let directory, let errno):
            return "inotify_add_watch on \(directory) failed: \(String(cString: strerror(errno)))"
        }
    }
}
