import Foundation
import Logging
import Synchronization

/// Carrying out ``FollowMachine``'s actions: subscriptions, timers, modes, and jobs.
extension StateFollower {
    func perform(_ actions: [FollowMachine.Action]) {
        for action in actions {
            switch action {
            case .subscribe(.directory):
                let directory = canonicalDirectory()
                loop.subscribe(directory: directory) { [weak self] events, id in
                    self?.handle(.directory(id: id, events))
                } answer: { [self] result in
                    // Held until answered (once): a follower freed meanwhile still lets go of it.
                    answer(result, for: .directory)
                }
            case .subscribe(.parent):
                subscribeToParent()
            case .unsubscribe(let id):
                loop.unsubscribe(id, waitForLoop: false)
            case .arm(let role, let interval):
                let timer = loop.schedule(every: interval) { [weak self] in self?.handle(.timer(role)) }
                core.withLock { core -> LoopTimer? in
                    // Stopped meanwhile (on another thread, or by a sink during this very job).
                    if core.machine.stopped { return timer }
                    defer { core.timers[role] = timer }
                    return core.timers[role]
                }?.cancel()
            case .cancel(let role):
                core.withLock { $0.timers.removeValue(forKey: role) }?.cancel()
            case .changeMode(let mode):
                emit(.modeChanged(mode))
            case .log(let message, let reason):
                var metadata: Logger.Metadata = ["store": "\(handle.stateFilePath)"]
                if let reason { metadata["reason"] = "\(reason)" }
                handle.options.logger.info("\(message)", metadata: metadata)
            case .run(let job):
                run(job)
            }
        }
    }

    private func answer(_ result: Result<UInt64, WatchUnavailable>, for watch: FollowMachine.Watch) {
        switch result {
        case .success(let id): handle(.subscribed(watch, id: id))
        case .failure(let reason): handle(.subscribeFailed(watch, reason))
        }
    }

    /// Watches the directory's parent for the directory's name coming back (created or moved in).
    private func subscribeToParent() {
        let path = canonicalDirectory()
        let name = (path as NSString).lastPathComponent
        let parent = (path as NSString).deletingLastPathComponent
        guard !name.isEmpty, !parent.isEmpty, let resolved = canonicalPath(of: parent) else {
            handle(.subscribeFailed(.parent, .watchFailed(directory: parent, errno: ENOENT)))
            return
        }
        loop.subscribe(directory: resolved) { [weak self] events, id in
            let returned = events.contains { event in
                guard case .changed(name, let mask) = event else { return false }
                return mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0
            }
            // An overflow leaves the watch in place (the loop watches again): only these end it.
            let ended = events.contains { $0 == .watchRemoved || { if case .watchLost = $0 { true } else { false } }($0) }
            self?.handle(.parent(id: id, returned: returned, ended: ended))
        } answer: { [self] result in
            answer(result, for: .parent)
        }
    }

    func canonicalDirectory() -> String {
        canonicalPath(of: handle.directory) ?? handle.directory
    }

    /// Where other hosts' writes are not notified: network and FUSE file systems.
    func unnotifiedFileSystem() -> String? {
        guard let dir = try? handle.openDirectory(), let kind = try? StoreOpening(handle).fileSystemKind(dir) else { return nil }
        if let network = kind.networkName { return "\(handle.directory) is on \(network), where remote changes are not notified" }
        if kind.isFUSE { return "\(handle.directory) is on a FUSE file system, where changes may not be notified" }
        return nil
    }

    // MARK: Jobs

    /// How a job ended.
    enum JobEnd {
        /// Done; `retry` when it should be tried again after the poll interval.
        case done(retry: Bool)
        /// The file is too large to read on the loop thread.
        case tooLargeHere
    }

    /// Runs `job` here, on the loop thread, when it answers a notification (a reload of the state
    /// file's name, a read ahead) and reads little; else on the follower's queue — a large file, a
    /// burst to fill from history, and every poll, consistency check, retry and resynchronization
    /// (polling is chosen for network and FUSE file systems, whose reads may stall: never on the
    /// thread every store of the process is notified on). Either way its end is decided on the
    /// loop thread. A reload is counted (and a retry marked done) once, when the job starts.
    private func run(_ job: FollowMachine.Job) {
        let taken = core.withLock { core -> Lent? in
            guard var lent = core.lent else { return nil }
            core.lent = nil
            if case .reload(let trigger) = job {
                if trigger == .retry { lent.reloader.retryFired() }
                lent.reloader.reloadStarted()
            }
            core.statistics = lent.reloader.statistics  // what ``statistics`` answers while the job runs
            return lent
        }
        guard var lent = taken else { return }
        let answersNotification = if case .reload(let trigger) = job { trigger == .notified } else { true }
        if answersNotification, case .done(let retry) = execute(job, inline: true, &lent) {
            finish(lent, retry: retry)
            return
        }
        let handedOver = lent
        queue.async { [self] in
            var lent = handedOver
            let end = execute(job, inline: false, &lent)
            let retry = if case .done(let retry) = end { retry } else { false }
            let ended = lent
            do { try loop.perform { [self] in finish(ended, retry: retry) } } catch {
                finish(ended, retry: retry)  // unreachable: the loop runs already
            }
        }
    }

    private func execute(_ job: FollowMachine.Job, inline: Bool, _ lent: inout Lent) -> JobEnd {
        switch job {
        case .reload(let trigger): reload(trigger, inline: inline, &lent)
        case .readAhead(let name): readAhead(name, inline: inline, &lent)
        }
    }

    private func finish(_ lent: Lent, retry: Bool) {
        let actions = core.withLock { core in
            core.lent = lent
            core.statistics = lent.reloader.statistics
            if core.machine.stopped { core.lent?.ahead = nil }
            return core.machine.handle(.jobFinished(retry: retry))
        }
        perform(actions)
    }
}
