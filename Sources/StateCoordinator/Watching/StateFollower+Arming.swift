import Dispatch
import Foundation
import Logging
import Synchronization
import SystemPackage

/// Arming: choosing inotify or polling, subscribing to the watch loop, the timers of each mode,
/// re-arming after the directory went away, and going back to inotify after a fallback.
extension StateFollower {
    /// The mode ``start()`` would choose, found by arming a watch (released by ``stop()``).
    func probeMode() -> WatchMode {
        queue.sync { chooseMode().mode }
    }

    /// The mode to follow in, and whether inotify is worth trying again later.
    func chooseMode() -> (mode: WatchMode, retryable: Bool) {
        if options.forcePolling { return (.polling(reason: "polling was requested"), false) }
        if let reason = unnotifiedFileSystem() { return (.polling(reason: reason), false) }
        switch subscribe() {
        case .success: return (.inotify, false)
        case .failure(.watchFailed(_, let errno)) where Errno(rawValue: errno) == .noSuchFileOrDirectory:
            // Watching for the directory's return first: a consumer told it is gone may recreate it at once.
            scheduleRearm()
            markGone()
            return (.inotify, false)
        case .failure(let reason): return (.polling(reason: reason.description), true)
        }
    }

    /// Sets the mode and the timers that go with it.
    /// Tells the subscriber of a change of mode (a first mode of polling counts as one).
    func enter(_ mode: WatchMode, retryingInotify: Bool) {
        let previous = progress.withLock { progress in
            defer { progress.mode = mode }
            return progress.mode
        }
        if previous != mode, !options.forcePolling { emit(.modeChanged(mode)) }
        switch mode {
        case .inotify:
            cancelTimers([.poll, .inotifyRetry])
            if let interval = options.consistencyCheckInterval {
                addTimer(.consistencyCheck, every: interval) { $0.reload(.consistencyCheck) }
            }
        case .polling:
            cancelTimers([.consistencyCheck])
            addTimer(.poll, every: options.pollInterval) { $0.reload(.poll) }
            if retryingInotify {
                addTimer(.inotifyRetry, every: options.inotifyRetryInterval) { $0.retryInotify() }
            }
        case .closed:
            break
        }
    }

    /// Where other hosts' writes are not notified: network and FUSE file systems.
    func unnotifiedFileSystem() -> String? {
        guard let dir = try? handle.openDirectory(), let kind = try? StoreOpening(handle).fileSystemKind(dir) else { return nil }
        if let network = kind.networkName { return "\(handle.directory) is on \(network), where remote changes are not notified" }
        if kind.isFUSE { return "\(handle.directory) is on a FUSE file system, where changes may not be notified" }
        return nil
    }

    func subscribe() -> Result<Void, WatchUnavailable> {
        let directory = canonicalDirectory()
        let result = loop.subscribe(directory: directory) { [weak self] events in
            self?.receive(events)
        }
        switch result {
        case .success(let id):
            let stale = progress.withLock { progress -> Bool in
                // Stopped meanwhile, or subscribed already (a late timer tick): the new one is extra.
                if progress.stopped || progress.subscription != nil { return true }
                progress.subscription = id
                return false
            }
            if stale { loop.unsubscribe(id) }
            return .success(())
        case .failure(let reason):
            return .failure(reason)
        }
    }

    func canonicalDirectory() -> String {
        canonicalPath(of: handle.directory) ?? handle.directory
    }

    /// Starts (or replaces) the timer of a role, run by the watch loop, its action on the
    /// follower's queue; nothing once stopped.
    func addTimer(_ role: TimerRole, every interval: Duration, _ action: @escaping @Sendable (StateFollower) -> Void) {
        // At most one run queued at a time: a slow reload is not followed by a backlog of ticks.
        let queued = QueuedFlag()
        let timer = loop.schedule(every: interval) { [weak self] in
            guard let self, !isStopped, queued.set() else { return }
            queue.async { [self] in
                queued.clear()
                guard !isStopped else { return }
                action(self)
            }
        }
        let previous = progress.withLock { progress -> LoopTimer? in
            if progress.stopped { return timer }
            defer { progress.timers[role] = timer }
            return progress.timers[role]
        }
        previous?.cancel()
    }

    func cancelTimers(_ roles: [TimerRole]) {
        let timers = progress.withLock { progress in roles.compactMap { progress.timers.removeValue(forKey: $0) } }
        timers.forEach { $0.cancel() }
    }

    /// After the directory went away: watch its parent for the directory's name coming back (so
    /// that the first commits to a recreated store are announced too), and try to watch it again
    /// every poll interval in any case (the parent may be gone as well, or unwatchable).
    func scheduleRearm() {
        addTimer(.rearm, every: options.pollInterval) { $0.rearm() }
        watchParentForReturn()
        // It may have come back before the parent was watched.
        if progress.withLock({ $0.parentSubscription != nil }), (try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.directory)) != nil {
            queue.async { [self] in rearm() }
        }
    }

    func watchParentForReturn() {
        guard progress.withLock({ $0.parentSubscription == nil && !$0.stopped }) else { return }
        let path = canonicalDirectory()
        let name = (path as NSString).lastPathComponent
        let parent = (path as NSString).deletingLastPathComponent
        guard !name.isEmpty, !parent.isEmpty, let resolved = canonicalPath(of: parent) else { return }
        let result = loop.subscribe(directory: resolved) { [weak self] events in
            let returned = events.contains { event in
                guard case .changed(name, let mask) = event else { return false }
                return mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0
            }
            guard returned, let follower = self else { return }
            follower.queue.async { follower.rearm() }
        }
        guard case .success(let id) = result else { return }
        let stale = progress.withLock { progress -> Bool in
            guard !progress.stopped, progress.parentSubscription == nil, progress.subscription == nil else { return true }
            progress.parentSubscription = id
            return false
        }
        if stale { loop.unsubscribe(id) }
    }

    func rearm() {
        guard progress.withLock({ $0.subscription == nil && !$0.stopped }) else { return }
        guard case .success = subscribe() else { return }
        cancelTimers([.rearm])
        if let parent = progress.withLock({ progress in defer { progress.parentSubscription = nil }; return progress.parentSubscription }) {
            loop.unsubscribe(parent)
        }
        progress.withLock { $0.machine.statistics.resynchronizations += 1 }
        reload(.resynchronize)
    }

    /// While polling because inotify failed: try it again; on success, follow by inotify.
    func retryInotify() {
        // A tick of the retry timer may still come after a retry succeeded and cancelled it.
        guard progress.withLock({ $0.subscription == nil && !$0.stopped }) else { return }
        guard case .success = subscribe() else { return }
        handle.options.logger.info("watching by inotify again", metadata: ["store": "\(handle.stateFilePath)"])
        enter(.inotify, retryingInotify: false)
        progress.withLock { $0.machine.statistics.resynchronizations += 1 }
        reload(.resynchronize)
    }
}

/// Whether a timer's run is queued already.
private final class QueuedFlag: Sendable {
    private let queued = Atomic(false)
    /// Sets the flag; false when it was set already.
    func set() -> Bool { !queued.exchange(true, ordering: .acquiringAndReleasing) }
    func clear() { queued.store(false, ordering: .releasing) }
}
