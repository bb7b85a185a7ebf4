import CSystemShims
import Foundation
import Synchronization
import SystemPackage

/// The one thread per process that owns inotify and runs every follower's timers.
///
/// libinotifytools keeps a single, process-global inotify instance in static state and is not
/// thread-safe, and a user may have only 128 inotify instances by default
/// (`fs.inotify.max_user_instances`). So one thread owns it: it adds watches on request,
/// reference-counted per directory, reads the instance's descriptor, and fans each event out to
/// the subscribers of that directory. The same thread runs the followers' timers (polling,
/// consistency checks, re-arming). Handlers and timer actions run on it and must only hand work
/// off. It sleeps in `poll(2)` on the instance's descriptor and an eventfd that a new command
/// (a subscription, a timer) writes to, for at most the time to the next timer.
///
/// **Dead watches.** When a watched directory is deleted the kernel drops its watch, but the
/// library keeps its record, and would answer a later watch of the same path with the dead
/// descriptor. So each watch of a directory in one instance is added under a spelling of its own
/// (`/srv/bot`, then `/srv/bot/.`, `/srv/bot/./.`, …), which no stale record can shadow. A
/// directory whose last subscriber left keeps its watch, idle, for the next one (removing it
/// through the library fails, and prints, if the directory was just deleted). Too many idle
/// watches or spellings, or a failing descriptor, re-create the instance
/// (`inotifytools_cleanup` + `inotifytools_initialize`), which forgets every record; the
/// directories are watched again and their subscribers told to resynchronize.
final class WatchLoop: Sendable {
    /// The process-wide loop.
    static let shared = WatchLoop(calls: .live)

    /// Called with the events of one read of the instance, in order, for the subscriber's
    /// directory (so that a follower sees a temp file's close and the rename that followed it at
    /// once); or with one event that concerns the whole watch (an overflow, the watch gone).
    typealias Handler = @Sendable ([DirectoryEvent]) -> Void

    /// Events a directory watch asks for: the state file renamed in (`IN_MOVED_TO`), created or
    /// written in place by a foreign tool (`IN_CREATE`, `IN_CLOSE_WRITE`), deleted, and the
    /// directory itself going away.
    static let directoryMask = UInt32(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    /// The most directory watches kept with no subscriber; past this the instance is re-created.
    static var maximumIdleWatches: Int { 64 }

    /// The most spellings one directory gets in one instance before the instance is re-created.
    static var maximumSpellings: Int { 64 }

    /// The longest pause before re-creating an instance whose descriptor failed to read.
    static var maximumFailurePause: Duration { .seconds(1) }

    /// The shortest timer interval: a zero interval must not spin.
    static var minimumTimerInterval: Duration { .milliseconds(1) }

    private enum Command {
        case subscribe(id: UInt64, directory: String, handler: Handler, answer: @Sendable (Result<Void, WatchUnavailable>) -> Void)
        case unsubscribe(id: UInt64, reply: Reply)
        case run(@Sendable () -> Void)
        case schedule(id: UInt64, interval: Duration, action: @Sendable () -> Void)
        case cancelTimer(id: UInt64)
    }

    /// A one-shot reply from the loop thread, which any number of threads may wait for.
    final class Reply: Sendable {
        private let result = Mutex<Result<Void, WatchUnavailable>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        func send(_ value: Result<Void, WatchUnavailable>) {
            let first = result.withLock { result -> Bool in
                guard result == nil else { return false }
                result = value
                return true
            }
            if first { done.signal() }
        }

        func wait() -> Result<Void, WatchUnavailable> {
            done.wait()
            done.signal()  // for any other waiter
            return result.withLock { $0! }
        }
    }

    /// What callers and the loop share, under a lock: the commands waiting and the wake-up.
    private struct Shared {
        var commands: [Command] = []
        /// The eventfd the loop polls; made with the thread, kept for the life of the process (a
        /// caller may write to it at any moment, so its number must never name another file).
        var wake: FileDescriptor?
        var thread: ThreadIdentity?
        var nextID: UInt64 = 1
        /// Subscriptions the loop holds, for tests and statistics.
        var subscriptions = 0
    }

    private let calls: InotifyCalls
    private let shared = Mutex(Shared())

    init(calls: InotifyCalls) {
        self.calls = calls
    }

    /// Whether the calling thread is the loop's (for tests).
    var isCurrentThread: Bool { shared.withLock { $0.thread == .current } }

    /// How many subscriptions the loop holds (answered by its bookkeeping, not the kernel).
    var subscriptionCount: Int { shared.withLock { $0.subscriptions } }

    /// Watches `directory` (a canonical path) and calls `handler` on the loop thread with its
    /// events. Returns once the watch is armed, so nothing after the return can be missed.
    /// Never called on the loop thread (it waits for the loop).
    func subscribe(directory: String, handler: @escaping Handler) -> Result<UInt64, WatchUnavailable> {
        // On the loop thread the reply would never come: a handler or timer action must hand off.
        guard !isCurrentThread else { return .failure(.watchFailed(directory: directory, errno: EDEADLK)) }
        let reply = Reply()
        let id: UInt64
        do { id = try send { .subscribe(id: $0, directory: directory, handler: handler, answer: reply.send) } } catch {
            return .failure(error)
        }
        return reply.wait().map { id }
    }

    /// Watches `directory` (a canonical path) and calls `handler` on the loop thread with its
    /// events and the subscription; `answer` is called on the loop thread once the watch is armed
    /// (with the subscription), or with why it could not be. Returns at once: callable on the loop
    /// thread.
    func subscribe(
        directory: String, handler: @escaping @Sendable ([DirectoryEvent], UInt64) -> Void,
        answer: @escaping @Sendable (Result<UInt64, WatchUnavailable>) -> Void
    ) {
        do {
            _ = try send { id in
                .subscribe(id: id, directory: directory, handler: { handler($0, id) }) { result in answer(result.map { id }) }
            }
        } catch {
            answer(.failure(error))
        }
    }

    /// Runs `work` on the loop thread, after what was asked of the loop before it.
    ///
    /// - Throws: why there is no loop thread (no eventfd could be made).
    func perform(_ work: @escaping @Sendable () -> Void) throws(WatchUnavailable) {
        _ = try send { _ in .run(work) }
    }

    /// Stops delivering to a subscription (the directory's watch stays, idle, for the next one).
    ///
    /// - Parameter waitForLoop: return only once the loop has done so (never on the loop thread
    ///   itself, where waiting would deadlock). Without waiting, the handler may still be called a
    ///   last time; subscribers that are being torn down ignore that.
    func unsubscribe(_ id: UInt64, waitForLoop: Bool = true) {
        let reply = Reply()
        guard (try? send { _ in .unsubscribe(id: id, reply: reply) }) != nil else { return }
        if waitForLoop && !isCurrentThread { _ = reply.wait() }
    }

    /// Runs `action` on the loop thread every `interval` (first after one interval) until the
    /// timer is cancelled or dropped. The action must only hand work off.
    func schedule(every interval: Duration, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        let id = (try? send { .schedule(id: $0, interval: max(interval, Self.minimumTimerInterval), action: action) }) ?? 0
        return LoopTimer(id: id, loop: self)
    }

    func cancelTimer(_ id: UInt64) {
        _ = try? send { _ in .cancelTimer(id: id) }
    }

    /// Queues a command made with a fresh ID, starting the loop thread on first use, and wakes it.
    private func send(_ make: (UInt64) -> Command) throws(WatchUnavailable) -> UInt64 {
        let (id, wake, mustStart) = try shared.withLock { shared throws(WatchUnavailable) -> (UInt64, FileDescriptor, Bool) in
            var mustStart = false
            if shared.wake == nil {
                let fd = statecoordinator_wake_eventfd()
                guard fd >= 0 else { throw WatchUnavailable.initializationFailed(errno: errno) }
                shared.wake = FileDescriptor(rawValue: fd)
                mustStart = true
            }
            defer { shared.nextID += 1 }
            shared.commands.append(make(shared.nextID))
            return (shared.nextID, shared.wake!, mustStart)
        }
        if mustStart {
            let thread = Thread { [self] in run(wake: wake) }
            thread.name = "StateCoordinator.WatchLoop"
            thread.start()
        }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { try? wake.write($0) }
        return id
    }

    // MARK: The loop thread

    /// What only the loop thread touches: the instance, its watches, the timers.
    private struct Session {
        var wake: FileDescriptor
        var instance: FileDescriptor?
        var directories: [String: DirectoryWatch] = [:]
        /// The directories each watch descriptor reports on.
        var byWatch: [Int32: Set<String>] = [:]
        /// The directory each subscription is of.
        var subscribed: [UInt64: String] = [:]
        /// How many times each directory was watched in this instance (see the type's documentation).
        var spellings: [String: Int] = [:]
        /// Re-create the instance at this instant (its descriptor failed, with a growing pause).
        var reopenAt: ContinuousClock.Instant?
        var consecutiveFailures = 0
        var timers: [UInt64: Timer] = [:]
        /// The buffer every read of the instance goes into, allocated once: the loop lives as long
        /// as the process.
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: InotifyEventParser.bufferSize, alignment: 8)
    }

    private struct DirectoryWatch {
        var watch: Int32
        var subscribers: [UInt64: Handler] = [:]
    }

    private struct Timer {
        var deadline: ContinuousClock.Instant
        var interval: Duration
        var action: @Sendable () -> Void
    }

    private func run(wake: FileDescriptor) {
        shared.withLock { $0.thread = .current }
        var session = Session(wake: wake)
        while true {
            let ready = wait(&session)
            if ready.wake {
                var count: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &count) { try? wake.read(into: $0) }
                perform(takeCommands(), in: &session)
            }
            if ready.instance { readEvents(&session) }
            if let reopenAt = session.reopenAt, ContinuousClock.now >= reopenAt { reopen(&session) }
            fireTimers(&session)
        }
    }

    /// Polls the wake-up and the instance (unless it failed and waits to be re-created) until one
    /// is ready or the next timer is due.
    private func wait(_ session: inout Session) -> (wake: Bool, instance: Bool) {
        var fds = [pollfd(fd: session.wake.rawValue, events: Int16(POLLIN), revents: 0)]
        if let instance = session.instance, session.reopenAt == nil {
            fds.append(pollfd(fd: instance.rawValue, events: Int16(POLLIN), revents: 0))
        }
        let now = ContinuousClock.now
        let deadlines = session.timers.values.map(\.deadline) + [session.reopenAt].compactMap { $0 }
        // Rounded up to the next millisecond, so that a timer is never polled for just before it is due.
        let timeout = deadlines.min().map { Int32(clamping: max(0, (now.duration(to: $0).saturatingMicroseconds + 999) / 1000)) } ?? -1
        guard poll(&fds, nfds_t(fds.count), timeout) > 0 else { return (false, false) }  // a timeout, or EINTR
        return (fds[0].revents != 0, fds.count > 1 && fds[1].revents != 0)
    }

    private func takeCommands() -> [Command] {
        shared.withLock { shared in
            defer { shared.commands.removeAll() }
            return shared.commands
        }
    }

    private func perform(_ commands: [Command], in session: inout Session) {
        for command in commands {
            switch command {
            case .subscribe(let id, let directory, let handler, let answer):
                answer(subscribe(id, to: directory, handler: handler, in: &session))
            case .run(let work):
                work()
            case .unsubscribe(let id, let reply):
                if let directory = session.subscribed.removeValue(forKey: id) {
                    session.directories[directory]?.subscribers[id] = nil
                    forget(1)
                }
                if session.directories.values.filter(\.subscribers.isEmpty).count > Self.maximumIdleWatches { reopen(&session) }
                reply.send(.success(()))
            case .schedule(let id, let interval, let action):
                session.timers[id] = Timer(deadline: ContinuousClock.now + interval, interval: interval, action: action)
            case .cancelTimer(let id):
                session.timers[id] = nil
            }
        }
    }

    private func subscribe(_ id: UInt64, to directory: String, handler: @escaping Handler, in session: inout Session) -> Result<Void, WatchUnavailable> {
        if session.instance == nil {
            if let failure = open(&session) { return .failure(failure) }
        }
        if session.directories[directory] == nil {
            switch watch(directory, in: &session) {
            case .success(let watch): session.directories[directory] = DirectoryWatch(watch: watch)
            case .failure(let failure): return .failure(failure)
            }
        }
        session.directories[directory]?.subscribers[id] = handler
        session.subscribed[id] = directory
        shared.withLock { $0.subscriptions += 1 }
        return .success(())
    }

    /// Opens an instance; nil, or why not.
    private func open(_ session: inout Session) -> WatchUnavailable? {
        switch calls.open() {
        case .success(let fd):
            session.instance = fd
            return nil
        case .failure(let failure) where failure == .descriptorNotFound:
            return .descriptorNotFound
        case .failure(let failure):
            return .initializationFailed(errno: failure.errno)
        }
    }

    /// Adds a watch of `directory` under its next spelling (re-creating the instance first when
    /// the spellings ran out).
    private func watch(_ directory: String, in session: inout Session) -> Result<Int32, WatchUnavailable> {
        if session.spellings[directory, default: 0] >= Self.maximumSpellings {
            reopen(&session)
            guard session.instance != nil else { return .failure(.initializationFailed(errno: EMFILE)) }
        }
        let spelling = session.spellings[directory, default: 0]
        session.spellings[directory] = spelling + 1
        let path = directory == "/" ? "/" + String(repeating: "./", count: spelling) : directory + String(repeating: "/.", count: spelling)
        switch calls.watch(path, Self.directoryMask) {
        case .success(let watch):
            session.byWatch[watch, default: []].insert(directory)
            return .success(watch)
        case .failure(let failure):
            return .failure(.watchFailed(directory: directory, errno: failure.errno))
        }
    }

    private func readEvents(_ session: inout Session) {
        guard let instance = session.instance else { return }
        switch calls.read(instance, session.readBuffer) {
        case .success(let events):
            session.consecutiveFailures = 0
            var batch = Batch()
            for event in events { dispatch(event, in: &session, batch: &batch) }
            batch.flush(session)
        case .failure:
            // Re-created after a pause (10 ms, doubling, at most ``maximumFailurePause``), so that
            // a persistent error costs no CPU.
            session.consecutiveFailures += 1
            let pause = min(Self.maximumFailurePause, .milliseconds(10) * (1 << min(session.consecutiveFailures - 1, 16)))
            session.reopenAt = ContinuousClock.now + pause
        }
    }

    /// The changes of one read, per directory, handed on together (``flush(_:)``).
    private struct Batch {
        var changes: [String: [DirectoryEvent]] = [:]

        mutating func add(_ event: DirectoryEvent, for directory: String) { changes[directory, default: []].append(event) }

        /// Hands `directory`'s changes on (before an event that ends or resets its watch).
        mutating func flush(_ directory: String, _ session: Session) {
            guard let events = changes.removeValue(forKey: directory) else { return }
            session.directories[directory]?.subscribers.values.forEach { $0(events) }
        }

        func flush(_ session: Session) {
            for (directory, events) in changes { session.directories[directory]?.subscribers.values.forEach { $0(events) } }
        }
    }

    private func dispatch(_ event: InotifyEvent, in session: inout Session, batch: inout Batch) {
        if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // Events were lost, a watch's `IN_IGNORED` among them perhaps: a new instance watches
            // every directory again (a gone one is reported gone) and everyone resynchronizes.
            for directory in session.directories.keys { batch.flush(directory, session) }
            reopen(&session)
            return
        }
        guard let directories = session.byWatch[event.watch] else { return }
        if event.mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            for directory in directories { batch.flush(directory, session) }
            // Gone, or moved elsewhere: the watch no longer reports on this path. (A watch moved
            // away with its directory stays in the kernel until the instance is re-created; its
            // events match no directory any more.)
            session.byWatch[event.watch] = nil
            for directory in directories {
                guard let entry = session.directories.removeValue(forKey: directory) else { continue }
                for id in entry.subscribers.keys { session.subscribed[id] = nil }
                forget(entry.subscribers.count)
                entry.subscribers.values.forEach { $0([.watchRemoved]) }
            }
            return
        }
        for directory in directories { batch.add(.changed(name: event.name, mask: event.mask), for: directory) }
    }

    /// Re-creates the instance, forgetting every record the library keeps, and watches each
    /// subscribed directory again; their subscribers resynchronize, since events between the two
    /// instances are lost. When no instance can be made, every subscriber hears why (and polls).
    private func reopen(_ session: inout Session) {
        calls.close()
        session.instance = nil
        session.reopenAt = nil
        session.byWatch = [:]
        session.spellings = [:]
        let directories = session.directories.filter { !$0.value.subscribers.isEmpty }  // idle ones go
        session.directories = [:]
        if let failure = open(&session) {
            // Tried again with a growing pause while subscribers remain; they poll meanwhile.
            for entry in directories.values { lose(entry, in: &session, .watchLost(failure)) }
            return
        }
        for (directory, entry) in directories {
            switch watch(directory, in: &session) {
            case .success(let watch):
                session.directories[directory] = DirectoryWatch(watch: watch, subscribers: entry.subscribers)
                entry.subscribers.values.forEach { $0([.overflow]) }
            case .failure(let failure):
                let event: DirectoryEvent =
                    if case .watchFailed(_, let errno) = failure, Errno(rawValue: errno) == .noSuchFileOrDirectory { .watchRemoved }
                    else { .watchLost(failure) }
                lose(entry, in: &session, event)
            }
        }
    }

    private func lose(_ entry: DirectoryWatch, in session: inout Session, _ event: DirectoryEvent) {
        for id in entry.subscribers.keys { session.subscribed[id] = nil }
        forget(entry.subscribers.count)
        entry.subscribers.values.forEach { $0([event]) }
    }

    private func forget(_ count: Int) {
        shared.withLock { $0.subscriptions -= count }
    }

    /// Runs each timer that is due, once (a timer that fell behind runs once and is rescheduled
    /// from now, not once per missed interval).
    private func fireTimers(_ session: inout Session) {
        let now = ContinuousClock.now
        for (id, timer) in session.timers where timer.deadline <= now {
            let next = timer.deadline + timer.interval
            session.timers[id]?.deadline = next > now ? next : now + timer.interval
            timer.action()
        }
    }
}
