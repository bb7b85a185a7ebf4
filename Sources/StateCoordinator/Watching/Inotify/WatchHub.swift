import Foundation
import Synchronization
import SystemPackage

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
///
/// **Dead watches.** When a watched directory is deleted (`IN_DELETE_SELF`, `IN_IGNORED`) the
/// kernel has already dropped its watch, so `inotifytools_remove_watch_by_wd` fails, prints
/// `Failed to remove watch …` on stderr and keeps the library's record; a later watch of the same
/// path would then be looked up as the dead descriptor, and every one of its events dropped. The
/// hub therefore never removes a watch through the library at all: a directory whose last
/// subscriber left keeps its watch, idle, for the next one (at most ``maximumIdleWatches``); a
/// path whose watch the kernel dropped is remembered, and before it is watched again the hub
/// re-creates the instance (`inotifytools_cleanup` + `inotifytools_initialize`), which forgets
/// every record, and watches the other directories again, telling their subscribers to
/// resynchronize. A directory moved away (`IN_MOVE_SELF`) is handled the same way. Events the
/// library buffered from an earlier instance may carry watch numbers the new one reuses, so an
/// event saying a directory went away is believed only if the path no longer names it.
/// A failing read of the inotify descriptor re-creates the instance too (with a growing pause, so
/// a persistent error cannot spin), and if that fails the hub thread ends; the next subscription
/// starts it again.
final class WatchHub: Sendable {
    /// The process-wide hub.
    static let shared = WatchHub(calls: .live)

    typealias Handler = @Sendable (DirectoryEvent) -> Void

    /// Events a directory watch asks for: the state file renamed in (`IN_MOVED_TO`), created or
    /// written in place by a foreign tool (`IN_CREATE`, `IN_CLOSE_WRITE`), deleted, and the
    /// directory itself going away.
    static let directoryMask = UInt32(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    /// The most directory watches kept with no subscriber (see ``perform(_:in:)``); past this
    /// the instance is re-created, which drops them.
    static var maximumIdleWatches: Int { 64 }

    /// The longest pause between two attempts after the inotify descriptor failed to read.
    static var maximumFailurePause: Duration { .seconds(1) }

    private struct DirectoryWatch {
        var watch: Int32
        var subscribers: [UInt64: Handler]
        /// The directory's device and inode when it was watched: an event saying it went away is
        /// believed only if the path no longer names it (see ``dispatch(_:in:)``).
        var identity: InotifyCalls.DirectoryIdentity?
    }

    private enum Command {
        case subscribe(id: UInt64, directory: String, handler: Handler, reply: Reply)
        case unsubscribe(id: UInt64, reply: Reply)

        var reply: Reply {
            switch self {
            case .subscribe(_, _, _, let reply), .unsubscribe(_, let reply): reply
            }
        }
    }

    /// A one-shot reply from the hub thread, which any number of threads may wait for.
    final class Reply: Sendable {
        private let result = Mutex<Result<Void, WatchUnavailable>?>(nil)
        private let done = DispatchGroup()
        init() { done.enter() }
        func send(_ value: Result<Void, WatchUnavailable>) {
            let first = result.withLock { result -> Bool in
                guard result == nil else { return false }
                result = value
                return true
            }
            if first { done.leave() }
        }
        func wait() -> Result<Void, WatchUnavailable> {
            done.wait()
            return result.withLock { $0! }
        }
    }

    private struct State {
        /// Set by the first subscriber, which starts the thread; later ones wait on it. Cleared
        /// when the thread fails to start or ends, so that the next subscriber tries again.
        var startup: Reply?
        var commands: [Command] = []
        /// See ``wakePipe()``.
        var wakePipe: (read: Int32, write: Int32)?
        /// The hub thread, once running.
        var thread: ThreadIdentity?
        var nextID: UInt64 = 1
        /// Subscriptions the hub thread holds, for tests and statistics.
        var subscriptions = 0
    }

    /// What the hub thread owns: the library's instance and its watches.
    private struct Session {
        var wakeRead: Int32
        var wakeWatch: Int32
        var directories: [String: DirectoryWatch] = [:]
        /// Re-create the instance now (the descriptor failed, or too many idle watches).
        var mustReopen = false
        /// Paths whose watch the kernel dropped while the library keeps its record: watching one
        /// of them again needs a new instance first (the record would shadow the new watch).
        var deadPaths: Set<String> = []
        var consecutiveFailures = 0
    }

    private let calls: InotifyCalls
    private let state = Mutex(State())

    init(calls: InotifyCalls) {
        self.calls = calls
    }

    /// Whether the calling thread is the hub thread (for tests).
    var isCurrentThread: Bool { state.withLock { $0.thread == .current } }

    /// How many subscriptions the hub holds (answered by the hub's bookkeeping, not the kernel).
    var subscriptionCount: Int { state.withLock { $0.subscriptions } }

    /// Watches `directory` (a canonical path) and calls `handler` on the hub thread for each of
    /// its events. Returns once the watch is armed, so nothing after the return can be missed.
    func subscribe(directory: String, handler: @escaping Handler) -> Result<UInt64, WatchUnavailable> {
        while true {
            let startup: Reply
            switch startIfNeeded() {
            case .failure(let error): return .failure(error)
            case .success(let running): startup = running
            }
            let reply = Reply()
            // Queued only while the thread that answered `startup` still runs; else start again.
            let id = state.withLock { state -> UInt64? in
                guard state.startup === startup else { return nil }
                defer { state.nextID += 1 }
                state.commands.append(.subscribe(id: state.nextID, directory: directory, handler: handler, reply: reply))
                return state.nextID
            }
            guard let id else { continue }
            wake()
            return reply.wait().map { id }
        }
    }

    /// Stops delivering to a subscription; the directory's watch is removed with its last one.
    ///
    /// - Parameter waitForHub: return only once the hub has done so (never on the hub thread
    ///   itself, where waiting would deadlock). Without waiting, the handler may still be called a
    ///   last time; subscribers that are being torn down ignore that.
    func unsubscribe(_ id: UInt64, waitForHub: Bool = true) {
        let reply = Reply()
        let (queued, onHubThread) = state.withLock { state -> (Bool, Bool) in
            guard state.startup != nil else { return (false, false) }  // no thread: nothing is held
            state.commands.append(.unsubscribe(id: id, reply: reply))
            return (true, state.thread == .current)
        }
        guard queued else { return }
        wake()
        if waitForHub && !onHubThread { _ = reply.wait() }
    }

    private func wake() {
        guard let fd = state.withLock({ $0.wakePipe?.write }) else { return }
        WakePipe.poke(fd)
    }

    /// Starts the hub thread on first use; every caller returns once it is ready (or failed).
    private func startIfNeeded() -> Result<Reply, WatchUnavailable> {
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
        return startup.wait().map { startup }
    }

    // MARK: The hub thread

    /// The hub thread: initialize, arm the wake pipe, then dispatch events until the instance
    /// cannot be re-created.
    private func run(ready: Reply) {
        guard let pipe = wakePipe() else {
            return end(ready, failure: .initializationFailed(errno: errno))
        }
        var session: Session
        switch openInstance(wakeRead: pipe.read) {
        case .success(let wakeWatch): session = Session(wakeRead: pipe.read, wakeWatch: wakeWatch)
        case .failure(let reason): return end(ready, failure: reason)
        }
        state.withLock { $0.thread = .current }
        ready.send(.success(()))
        let reason = dispatchEvents(&session)
        calls.cleanup()
        end(ready, failure: reason, lost: session.directories)
    }

    /// The pipe that wakes the hub thread, made once and kept for the life of the process: a
    /// subscriber may write to it at any moment, so its descriptor must never be reused for
    /// another file.
    private func wakePipe() -> (read: Int32, write: Int32)? {
        if let pipe = state.withLock({ $0.wakePipe }) { return pipe }
        guard let pipe = WakePipe.make() else { return nil }
        state.withLock { $0.wakePipe = pipe }
        return pipe
    }

    /// Dispatches events and commands until the instance fails and cannot be re-created.
    private func dispatchEvents(_ session: inout Session) -> WatchUnavailable {
        while true {
            switch calls.nextEvent() {
            case .event(let event):
                session.consecutiveFailures = 0
                if event.watch == session.wakeWatch {
                    drain(session.wakeRead)
                    perform(takeCommands(), in: &session)
                } else {
                    dispatch(event, in: &session)
                }
            case .nothing:
                break
            case .failed:
                session.consecutiveFailures += 1
                pauseAfterFailure(session.consecutiveFailures)
                session.mustReopen = true
            }
            if session.mustReopen {
                if let reason = reopen(&session) { return reason }
                // A wake-up written while the old instance was closed is lost: look anyway.
                drain(session.wakeRead)
                perform(takeCommands(), in: &session)
            }
        }
    }

    /// Initializes the library and watches the wake pipe; returns the pipe's watch.
    private func openInstance(wakeRead: Int32) -> Result<Int32, WatchUnavailable> {
        if let errno = calls.initialize() { return .failure(.initializationFailed(errno: errno)) }
        switch calls.watch("/proc/self/fd/\(wakeRead)", UInt32(IN_MODIFY)) {
        case .success(let watch): return .success(watch)
        case .failure(let failure):
            calls.cleanup()
            return .failure(.watchFailed(directory: "/proc/self/fd", errno: failure.errno))
        }
    }

    /// Re-creates the inotify instance, forgetting every record the library keeps, and watches
    /// each directory again; their subscribers resynchronize, since events between the two
    /// instances are lost. Returns why, when no instance could be created.
    private func reopen(_ session: inout Session) -> WatchUnavailable? {
        calls.cleanup()
        session.mustReopen = false
        session.deadPaths = []
        switch openInstance(wakeRead: session.wakeRead) {
        case .success(let wakeWatch): session.wakeWatch = wakeWatch
        case .failure(let reason): return reason
        }
        session.directories = session.directories.filter { !$0.value.subscribers.isEmpty }  // idle ones go
        for (directory, entry) in session.directories {
            switch calls.watch(directory, Self.directoryMask) {
            case .success(let watch):
                session.directories[directory]?.watch = watch
                session.directories[directory]?.identity = calls.identify(directory)
                entry.subscribers.values.forEach { $0(.overflow) }
            case .failure(let failure):
                session.directories[directory] = nil
                forget(entry.subscribers.count)
                let event: DirectoryEvent =
                    Errno(rawValue: failure.errno) == .noSuchFileOrDirectory
                    ? .watchRemoved : .watchLost(.watchFailed(directory: directory, errno: failure.errno))
                entry.subscribers.values.forEach { $0(event) }
            }
        }
        return nil
    }

    /// Ends the hub thread: answers every waiting command and every subscriber with `failure`,
    /// and lets the next subscriber start a new thread.
    private func end(_ ready: Reply, failure: WatchUnavailable, lost directories: [String: DirectoryWatch] = [:]) {
        let commands = state.withLock { state -> [Command] in
            state.startup = nil
            state.thread = nil
            state.subscriptions = 0
            defer { state.commands.removeAll() }
            return state.commands
        }
        ready.send(.failure(failure))
        commands.forEach { $0.reply.send(.failure(failure)) }
        for entry in directories.values { entry.subscribers.values.forEach { $0(.watchLost(failure)) } }
    }

    /// Sleeps after the inotify descriptor failed to read: 10 ms, doubling, at most
    /// ``maximumFailurePause``, so that a persistent error costs no CPU.
    private func pauseAfterFailure(_ failures: Int) {
        let limit = Self.maximumFailurePause.saturatingMicroseconds
        let pause = min(limit, 10_000 << min(failures - 1, 16))
        Thread.sleep(forTimeInterval: Double(pause) / 1e6)
    }

    private func drain(_ fd: Int32) { WakePipe.drain(fd) }

    private func takeCommands() -> [Command] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    private func forget(_ count: Int) {
        state.withLock { $0.subscriptions -= count }
    }

    private func perform(_ commands: [Command], in session: inout Session) {
        for command in commands {
            switch command {
            case .subscribe(let id, let directory, let handler, let reply):
                if session.deadPaths.contains(directory), let reason = reopen(&session) {
                    reply.send(.failure(reason))
                    session.mustReopen = true  // no instance now: the loop tries once more, or ends the hub
                    continue
                }
                if session.directories[directory] == nil {
                    switch calls.watch(directory, Self.directoryMask) {
                    case .success(let watch):
                        session.directories[directory] = DirectoryWatch(
                            watch: watch, subscribers: [:], identity: calls.identify(directory))
                    case .failure(let failure):
                        reply.send(.failure(.watchFailed(directory: directory, errno: failure.errno)))
                        continue
                    }
                }
                session.directories[directory]?.subscribers[id] = handler
                state.withLock { $0.subscriptions += 1 }
                reply.send(.success(()))
            case .unsubscribe(let id, let reply):
                // The directory's watch stays, idle, when its last subscriber leaves: removing it
                // through the library fails (and prints on stderr) if the directory was deleted
                // a moment ago, and a later subscriber of the same directory reuses it. Too many
                // idle watches are dropped together by re-creating the instance.
                for (directory, entry) in session.directories where entry.subscribers[id] != nil {
                    session.directories[directory]?.subscribers[id] = nil
                    forget(1)
                }
                if session.directories.values.filter(\.subscribers.isEmpty).count > Self.maximumIdleWatches {
                    session.mustReopen = true
                }
                reply.send(.success(()))
            }
        }
    }

    /// The watches the kernel holds for the hub's own instance: the one that holds its wake watch
    /// (the wake pipe's inode under the wake watch's number); nil when that cannot be told.
    private func ownKernelWatches(_ session: Session) -> Set<InotifyCalls.KernelWatch>? {
        guard let pipe = calls.identify("/proc/self/fd/\(session.wakeRead)") else { return nil }
        let wake = InotifyCalls.KernelWatch(watch: session.wakeWatch, inode: pipe.inode)
        return calls.kernelWatches()?.first { $0.contains(wake) }
    }

    private func dispatch(_ event: InotifyEvent, in session: inout Session) {
        if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
            for entry in session.directories.values { entry.subscribers.values.forEach { $0(.overflow) } }
            return
        }
        guard let (directory, entry) = session.directories.first(where: { $0.value.watch == event.watch }) else { return }
        if event.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            // The library may hand out events it buffered from the instance before the last
            // re-creation, whose watch numbers the new instance reuses: such an event is stale if
            // the path still names the directory that was watched *and* the kernel still holds
            // this watch on it; then only resynchronize. (The path alone does not tell: a
            // directory deleted and re-created at once may get its inode number back.)
            if let identity = entry.identity, calls.identify(directory) == identity, event.mask & UInt32(IN_MOVE_SELF) == 0,
                ownKernelWatches(session)?.contains(InotifyCalls.KernelWatch(watch: event.watch, inode: identity.inode)) ?? true
            {
                entry.subscribers.values.forEach { $0(.overflow) }
                return
            }
            // The directory is gone or elsewhere: its watch no longer reports on this path, and
            // the kernel may have dropped it already, so it is not removed through the library
            // (see the type's documentation); the instance is re-created before the path is
            // watched again. (A watch moved away with its directory reports on there until then;
            // its events match no path and are dropped.)
            session.directories[directory] = nil
            session.deadPaths.insert(directory)
            forget(entry.subscribers.count)
            entry.subscribers.values.forEach { $0(.watchRemoved) }
            return
        }
        entry.subscribers.values.forEach { $0(.changed(name: event.name, mask: event.mask)) }
    }
}
