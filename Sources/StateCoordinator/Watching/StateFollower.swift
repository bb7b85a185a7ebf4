import Dispatch
import Foundation
import Logging
import Synchronization

/// Follows one store for one subscriber: arms inotify (or polls), reloads the state file when it
/// changes, verifies it, and hands each new version — or each problem — to `sink`.
///
/// Its work runs on its own serial queue (never the cooperative pool), except that a small state
/// file is reloaded right on the loop thread when its name arrives (see ``receive(_:)``).
/// Delivered versions rise strictly within one store identity. A file counts as seen only once
/// it was delivered (or reported as bad): a transient failure (EMFILE, EIO) is retried.
/// Nothing is delivered after ``stop()``.
final class StateFollower<State: Codable & Sendable>: Sendable {
    typealias Trigger = ReloadMachine.Trigger

    /// A file is counted as missed by inotify only if it changed longer ago than this when the
    /// consistency check found it (a notification may just be on its way).
    static var notificationGrace: Duration { .milliseconds(50) }

    /// The largest state file reloaded directly on the loop thread; larger ones go to the queue so
    /// that one big store cannot delay the notifications of every other store in the process.
    /// Judged by the size of the file just opened, not the previous one.
    static var inlineReloadLimit: Int64 { 256 << 10 }

    enum TimerRole: Hashable { case poll, consistencyCheck, rearm, inotifyRetry }

    struct Progress {
        var mode: WatchMode = .inotify
        var subscription: UInt64?
        /// While the directory is gone: a watch of its parent, for the directory coming back.
        var parentSubscription: UInt64?
        /// What was delivered and reported, and the reload decisions made on it.
        var machine: ReloadMachine
        var reloadPending = false
        var stopped = false
        var timers: [TimerRole: LoopTimer] = [:]
    }

    let handle: StoreHandle
    let options: WatchOptions
    let everyVersion: Bool
    let loop: WatchLoop
    let queue: DispatchQueue
    let sink: @Sendable (WatchEvent<State>) -> Void
    /// Called when the state file verifies again after a problem, holding the version already
    /// delivered (no event is due: the version is not new). A ``StateReader`` clears its problem.
    let verifiedAgain: (@Sendable () -> Void)?
    let progress: Mutex<Progress>
    /// The last temp file of ours read ahead of its rename (see ``readAhead(_:inline:)``).
    let aheadOfRename = Mutex<ReadAhead<State>?>(nil)
    /// Serializes reloads between the loop thread (small files, see ``receive(_:)``) and the queue.
    let reloadGate = Mutex(())

    /// - Parameters:
    ///   - since: deliver every version after this one (from history where kept) before the current
    ///     one; nil starts with the current version.
    ///   - everyVersion: fill versions a burst coalesced away from history, reporting gaps.
    init(
        handle: StoreHandle, options: WatchOptions, since: UInt64?, everyVersion: Bool, loop: WatchLoop = .shared,
        verifiedAgain: (@Sendable () -> Void)? = nil, sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) {
        self.verifiedAgain = verifiedAgain
        self.handle = handle
        self.options = options
        self.everyVersion = everyVersion || since != nil
        self.loop = loop
        self.sink = sink
        self.queue = DispatchQueue(label: "StateCoordinator.watch.\(handle.files.name)", target: sharedTargetQueue)
        progress = Mutex(
            Progress(machine: ReloadMachine(since: since, everyVersion: everyVersion || since != nil, inlineLimit: Self.inlineReloadLimit)))
    }

    /// Records that the subscriber already holds the version in `file` (a reader's first read),
    /// so that the first reload skips that file instead of reading it again. Call before ``start()``.
    func assumeHeld(_ seen: SeenVersion, version: UInt64, storeID: String) {
        progress.withLock { $0.machine.assumeHeld(seen, version: version, storeID: storeID) }
    }

    var mode: WatchMode { progress.withLock { $0.mode } }
    var statistics: WatchStatistics { progress.withLock { $0.machine.statistics } }
    var isStopped: Bool { progress.withLock { $0.stopped } }
    /// How many timers the follower runs (for tests).
    var timerCount: Int { progress.withLock { $0.timers.count } }
    /// Whether the follower holds a subscription of the watch loop.
    var isSubscribed: Bool { progress.withLock { $0.subscription != nil } }

    /// Arms the watch, then delivers the current version (the watch is armed before the first
    /// read, so a commit in between is never missed).
    ///
    /// - Parameter beforeFirstRead: runs on the follower's queue first (a watch registers its
    ///   reader there, off the caller's thread, before its first version is delivered).
    func start(beforeFirstRead: (@Sendable () -> Void)? = nil) {
        queue.async { [self] in
            beforeFirstRead?()
            let (mode, retryable) = chooseMode()
            if case .polling(let reason) = mode, !options.forcePolling {
                handle.options.logger.info(
                    "watching by polling", metadata: ["store": "\(handle.stateFilePath)", "reason": "\(reason)"])
            }
            enter(mode, retryingInotify: retryable)
            reload(.start)
        }
    }

    /// Stops following: releases the watch and the timers, and delivers nothing more. Safe to
    /// call more than once, and from any thread: it does not wait for the loop (it may run in a
    /// deinit on the cooperative pool).
    func stop() {
        let (subscriptions, timers) = progress.withLock { progress -> ([UInt64], [LoopTimer]) in
            guard !progress.stopped else { return ([], []) }
            progress.stopped = true
            defer {
                progress.subscription = nil
                progress.parentSubscription = nil
                progress.timers = [:]
                progress.machine.stopped()
            }
            return ([progress.subscription, progress.parentSubscription].compactMap { $0 }, Array(progress.timers.values))
        }
        timers.forEach { $0.cancel() }
        aheadOfRename.withLock { $0 = nil }
        for subscription in subscriptions { loop.unsubscribe(subscription, waitForLoop: false) }
        // An event being handed to the sink on another thread finishes before stop returns.
        sinkGate.lock()
        sinkGate.unlock()
    }

    /// Hands an event to the subscriber unless the follower was stopped. Held while the sink
    /// runs, so that ``stop()`` returns only once no event is being handed over (recursive: a
    /// sink may stop its own follower).
    let sinkGate = NSRecursiveLock()

    func emit(_ event: WatchEvent<State>) {
        sinkGate.lock()
        defer { sinkGate.unlock() }
        guard !isStopped else { return }
        sink(event)
    }
}

/// The queue every follower's own queue targets, so that following many stores costs at most one
/// dispatch thread.
private let sharedTargetQueue = DispatchQueue(label: "StateCoordinator.watch")
