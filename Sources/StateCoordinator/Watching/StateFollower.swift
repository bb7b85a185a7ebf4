import Dispatch
import Foundation
import Logging
import Synchronization

/// Follows one store for one subscriber: carries out what its two machines decide —
/// ``FollowMachine`` (when to look, inotify or polling, timers, re-arming) and ``ReloadMachine``
/// (what to make of the file found) — and hands each new version, or each problem, to `sink`.
///
/// **One thread.** Every event reaches the follower on the watch loop's thread (directory events,
/// timer ticks, the answers to subscriptions) and is decided there. Its jobs run there too — a
/// reload, a read ahead — when the file is small: one thread wake-up from a writer's rename to
/// delivery. A job that must read a large file (more than ``inlineReloadLimit``, judged by the
/// file just opened), or that fills a burst from history, moves to the follower's own queue so
/// that one big store cannot delay the notifications of every other store in the process; its
/// end comes back to the loop thread as an event, and no other job starts meanwhile. The machines'
/// state is lent to the job running, so no two jobs ever see it at once.
///
/// Delivered versions rise strictly within one store identity. A file counts as seen only once it
/// was delivered (or reported as bad): a transient failure (EMFILE, EIO) is retried. Nothing is
/// delivered after ``stop()`` returns.
final class StateFollower<State: Codable & Sendable>: Sendable {
    typealias Trigger = ReloadMachine.Trigger

    /// A file is counted as missed by inotify only if it changed longer ago than this when the
    /// consistency check found it (a notification may just be on its way).
    static var notificationGrace: Duration { .milliseconds(50) }

    /// The largest state file read on the loop thread.
    static var inlineReloadLimit: Int64 { 256 << 10 }

    /// What a job works on, lent to it while it runs.
    struct Lent: Sendable {
        var reloader: ReloadMachine
        /// The last temp file of ours read ahead of its rename.
        var ahead: ReadAhead<State>?
    }

    struct Core: Sendable {
        var machine: FollowMachine
        /// nil while a job holds it.
        var lent: Lent?
        /// The reload machine's counters when the last job ended.
        var statistics = WatchStatistics()
        var timers: [FollowMachine.TimerRole: LoopTimer] = [:]
    }

    let handle: StoreHandle
    let options: WatchOptions
    let loop: WatchLoop
    let queue: DispatchQueue
    let sink: @Sendable (WatchEvent<State>) -> Void
    /// Called when the state file verifies again after a problem, holding the version already
    /// delivered (no event is due: the version is not new). A ``StateReader`` clears its problem.
    let verifiedAgain: (@Sendable () -> Void)?
    let core: Mutex<Core>
    /// Held while an event is handed to the sink, so that ``stop()`` returns only once none is
    /// (recursive: a sink may stop its own follower).
    let sinkGate = NSRecursiveLock()

    /// - Parameters:
    ///   - since: deliver every version after this one (from history where kept) before the current
    ///     one; nil starts with the current version.
    ///   - everyVersion: fill versions a burst coalesced away from history, reporting gaps.
    init(
        handle: StoreHandle, options: WatchOptions, since: UInt64?, everyVersion: Bool, loop: WatchLoop = .shared,
        verifiedAgain: (@Sendable () -> Void)? = nil, sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) {
        let everyVersion = everyVersion || since != nil
        self.verifiedAgain = verifiedAgain
        self.handle = handle
        self.options = options
        self.loop = loop
        self.sink = sink
        self.queue = DispatchQueue(label: "StateCoordinator.watch.\(handle.files.name)", target: sharedTargetQueue)
        let machine = FollowMachine(FollowMachine.Settings(options, files: handle.files, everyVersion: everyVersion))
        let reloader = ReloadMachine(since: since, everyVersion: everyVersion, inlineLimit: Self.inlineReloadLimit)
        core = Mutex(Core(machine: machine, lent: Lent(reloader: reloader)))
    }

    /// Records that the subscriber already holds the version in `file` (a reader's first read),
    /// so that the first reload skips that file instead of reading it again. Call before ``start()``.
    func assumeHeld(_ seen: SeenVersion, version: UInt64, storeID: String) {
        core.withLock { $0.lent?.reloader.assumeHeld(seen, version: version, storeID: storeID) }
    }

    var mode: WatchMode { core.withLock { $0.machine.mode } }
    var statistics: WatchStatistics {
        core.withLock { core in
            // While a job holds the machine: the counters as it started (its look counted).
            var statistics = core.lent?.reloader.statistics ?? core.statistics
            statistics.resynchronizations += core.machine.resynchronizations
            return statistics
        }
    }
    var isStopped: Bool { core.withLock { $0.machine.stopped } }
    /// How many timers the follower runs (for tests).
    var timerCount: Int { core.withLock { $0.timers.count } }
    /// Whether the follower holds a subscription of the watch loop.
    var isSubscribed: Bool { core.withLock { $0.machine.directory.id != nil } }

    /// Arms the watch, then delivers the current version (the watch is armed before the first
    /// read, so a commit in between is never missed).
    ///
    /// - Parameter beforeFirstRead: runs on the follower's queue first (a watch registers its
    ///   reader there, off the caller's thread, before its first version is delivered).
    func start(beforeFirstRead: (@Sendable () -> Void)? = nil) {
        queue.async { [self] in
            beforeFirstRead?()
            let unnotified = options.forcePolling ? nil : unnotifiedFileSystem()
            do {
                try loop.perform { [self] in handle(.start(unnotified: unnotified)) }
            } catch {
                emit(.problem(StateStoreError(
                    .ioFailure, "cannot follow \(handle.stateFilePath): \(error)",
                    hint: "The process is out of file descriptors; raise its limit (ulimit -n) and open the watch again.")))
            }
        }
    }

    /// The mode ``start()`` would choose, found by arming a watch and releasing it. Never call it
    /// on the watch loop's thread.
    func probeMode() -> WatchMode {
        if options.forcePolling { return .polling(reason: "polling was requested") }
        if let reason = unnotifiedFileSystem() { return .polling(reason: reason) }
        switch loop.subscribe(directory: canonicalDirectory(), handler: { _ in }) {
        case .success(let id):
            loop.unsubscribe(id)
            return .inotify
        case .failure(.watchFailed(_, let errno)) where errno == ENOENT:
            return .inotify  // watched for its return, as ``start()`` would
        case .failure(let reason):
            return .polling(reason: reason.description)
        }
    }

    /// Stops following: releases the watch and the timers, and delivers nothing more. Safe to
    /// call more than once, and from any thread: it does not wait for the loop (it may run in a
    /// deinit on the cooperative pool).
    func stop() {
        let (actions, timers) = core.withLock { core in
            let actions = core.machine.handle(.stop)
            core.lent?.ahead = nil  // a job running drops its own when it ends
            defer { core.timers = [:] }
            return (actions, Array(core.timers.values))
        }
        timers.forEach { $0.cancel() }
        perform(actions)
        // An event being handed to the sink on another thread finishes before stop returns.
        sinkGate.lock()
        sinkGate.unlock()
    }

    func emit(_ event: WatchEvent<State>) {
        whileDelivering { sink(event) }
    }

    /// Hands an event over from a job after publishing the counters that led to it: whoever sees
    /// the event sees them (``statistics`` answers the published ones while a job runs).
    func emit(_ event: WatchEvent<State>, counted statistics: WatchStatistics) {
        core.withLock { $0.statistics = statistics }
        emit(event)
    }

    /// Runs `body` (a hand-over to the subscriber) unless stopped, holding the sink gate.
    func whileDelivering(_ body: () -> Void) {
        sinkGate.lock()
        defer { sinkGate.unlock() }
        guard !isStopped else { return }
        body()
    }

    /// Decides `event` and carries out what was decided. On the loop thread.
    func handle(_ event: FollowMachine.Event) {
        perform(core.withLock { $0.machine.handle(event) })
    }
}

/// The queue every follower's own queue targets, so that following many stores costs at most one
/// dispatch thread.
private let sharedTargetQueue = DispatchQueue(label: "StateCoordinator.watch")
