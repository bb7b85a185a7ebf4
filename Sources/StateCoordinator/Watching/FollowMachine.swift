import Glibc
import SystemPackage

/// A follower's decisions about *when* to look and *how* to learn of changes, without I/O:
/// `(state, event) → (state, [action])`. Events are what the watch loop reports for the store's
/// directory and its parent, timer ticks, the answers to subscriptions, and the end of each job
/// (a reload or a read ahead); actions are what ``StateFollower`` carries out — subscribe,
/// unsubscribe, arm or cancel a timer, change mode, run a job. What a reload does with the file
/// it finds is ``ReloadMachine``'s part.
///
/// Its rules: one job at a time, the others queued in order (a reload already queued is not
/// queued twice); nothing is read before the directory's watch is armed (so a commit in between
/// cannot be missed); a directory gone is reported only once its parent is watched for its return
/// (a consumer told it is gone may re-create it at once); while the directory is gone, or inotify
/// failed, a timer keeps trying to watch it again; nothing is done once stopped.
struct FollowMachine: Sendable {
    /// The two watches a follower may hold.
    enum Watch: Sendable, Hashable {
        /// The store's directory.
        case directory
        /// The directory's parent, while the directory is gone: for its name coming back.
        case parent
    }

    /// The timers a follower may run.
    enum TimerRole: Sendable, Hashable, CaseIterable {
        /// While polling: look at the state file.
        case poll
        /// Alongside inotify: look at the state file in case a notification was lost.
        case consistencyCheck
        /// While the directory is gone: try to watch it again.
        case rearm
        /// While polling because inotify failed: try inotify again.
        case inotifyRetry
        /// Once, after a transient failure: reload again.
        case retry
    }

    /// What a follower works through, one at a time.
    enum Job: Sendable, Equatable {
        /// Look at the state file (``ReloadMachine``).
        case reload(ReloadMachine.Trigger)
        /// Read a temp file of ours, just closed, ahead of its rename (``ReadAhead``).
        case readAhead(name: String)
    }

    enum Event: Sendable, Equatable {
        /// Start following; `unnotified` says why inotify would not see changes here (a network
        /// or FUSE file system), if it would not.
        case start(unnotified: String?)
        /// A watch was armed.
        case subscribed(Watch, id: UInt64)
        /// A watch could not be armed.
        case subscribeFailed(Watch, WatchUnavailable)
        /// What one read of the inotify instance said about the directory, in order, through
        /// subscription `id`.
        case directory(id: UInt64, [DirectoryEvent])
        /// What the parent's watch (subscription `id`) said: whether the directory's name came
        /// back, and whether the watch itself ended.
        case parent(id: UInt64, returned: Bool, ended: Bool)
        /// A timer is due.
        case timer(TimerRole)
        /// The job running ended; `retry` when it asks to be tried again after the poll interval.
        case jobFinished(retry: Bool)
        /// Stop following.
        case stop
    }

    enum Action: Sendable, Equatable {
        case subscribe(Watch)
        case unsubscribe(UInt64)
        case arm(TimerRole, every: Duration)
        case cancel(TimerRole)
        /// Tell the subscriber the mode changed (unless polling was asked for).
        case changeMode(WatchMode)
        /// Log why the mode changed.
        case log(String, reason: String?)
        /// Run a job (its end comes back as ``Event/jobFinished(retry:)``).
        case run(Job)
    }

    enum Subscription: Sendable, Equatable {
        case none
        case pending
        case active(UInt64)

        var id: UInt64? {
            if case .active(let id) = self { id } else { nil }
        }
    }

    /// The options that decide the timers.
    struct Settings: Sendable, Equatable {
        var forcePolling = false
        var pollInterval: Duration = WatchOptions.defaultPollInterval
        var consistencyCheckInterval: Duration? = WatchOptions.defaultConsistencyCheckInterval
        var inotifyRetryInterval: Duration = .seconds(5)
        /// The state file's name in the directory, and the prefix of our temp files' names.
        var stateFile = "state.json"
        var tempPrefix = ".state.json."
        /// Read ahead only when not every version is wanted (filling a burst reads history).
        var readsAhead = true

        init() {}

        init(_ options: WatchOptions, files: StoreFiles, everyVersion: Bool) {
            forcePolling = options.forcePolling
            pollInterval = options.pollInterval
            consistencyCheckInterval = options.consistencyCheckInterval
            inotifyRetryInterval = options.inotifyRetryInterval
            stateFile = files.stateFile
            tempPrefix = files.tempPrefix
            readsAhead = !everyVersion
        }
    }

    let settings: Settings
    private(set) var mode: WatchMode = .inotify
    private(set) var directory = Subscription.none
    private(set) var parent = Subscription.none
    private(set) var timers: Set<TimerRole> = []
    private(set) var stopped = false
    /// Re-arms and overflows, each followed by a full reload (``WatchStatistics/resynchronizations``).
    private(set) var resynchronizations = 0
    /// Started, waiting for the directory's first subscription to answer.
    private(set) var awaitingStart = false
    /// Whether a job runs; the ones to run after it.
    private(set) var running: Job?
    private(set) var queued: [Job] = []
    /// A reload to run once the parent's subscription answers (it may report the directory gone).
    private var afterParent: ReloadMachine.Trigger?

    init(_ settings: Settings) {
        self.settings = settings
    }

    mutating func handle(_ event: Event) -> [Action] {
        if stopped {
            // Late answers: let go of what was armed after all.
            if case .subscribed(_, let id) = event { return [.unsubscribe(id)] }
            return []
        }
        switch event {
        case .start(let unnotified):
            if settings.forcePolling { return enterPolling("polling was requested", retrying: false) + run(.reload(.start)) }
            if let unnotified {
                return [.log("watching by polling", reason: unnotified)] + enterPolling(unnotified, retrying: false) + run(.reload(.start))
            }
            awaitingStart = true
            directory = .pending
            return [.subscribe(.directory)]
        case .subscribed(.directory, let id):
            return directorySubscribed(id)
        case .subscribed(.parent, let id):
            guard parent == .pending, directory.id == nil else {
                // Answered after the directory came back: not needed any more.
                if parent == .pending { parent = .none }
                return [.unsubscribe(id)] + runAfterParent()
            }
            parent = .active(id)
            guard directory == .none else { return runAfterParent() }
            // It may have come back before the parent was watched.
            directory = .pending
            return runAfterParent() + [.subscribe(.directory)]
        case .subscribeFailed(.directory, let reason):
            return directoryFailed(reason)
        case .subscribeFailed(.parent, _):
            if parent == .pending { parent = .none }
            return runAfterParent()
        case .directory(let id, let events):
            guard directory.id == id else { return [] }  // a last event of a watch let go
            return directoryEvents(events)
        case .parent(let id, let returned, let ended):
            guard parent.id == id else { return [] }
            if ended { parent = .none }
            guard returned, directory == .none else { return [] }
            directory = .pending
            return [.subscribe(.directory)]
        case .timer(let role):
            return timerFired(role)
        case .jobFinished(let retry):
            running = nil
            var actions: [Action] = []
            if retry { actions += arm(.retry, every: settings.pollInterval) }
            if !queued.isEmpty { actions += run(queued.removeFirst()) }
            return actions
        case .stop:
            stopped = true
            let ids = [directory.id, parent.id].compactMap { $0 }
            defer {
                directory = .none
                parent = .none
                timers = []
                queued = []
            }
            return ids.map(Action.unsubscribe) + TimerRole.allCases.filter(timers.contains).map(Action.cancel)
        }
    }

    // MARK: Subscriptions

    private mutating func directorySubscribed(_ id: UInt64) -> [Action] {
        guard directory == .pending else { return [.unsubscribe(id)] }  // one is armed already
        directory = .active(id)
        if awaitingStart {
            awaitingStart = false
            return enterInotify() + run(.reload(.start))
        }
        // Back after the directory was gone, or after inotify failed.
        var actions = cancel(.rearm) + cancel(.inotifyRetry)
        if let parentID = parent.id { actions.append(.unsubscribe(parentID)) }
        parent = .none
        if case .polling = mode { actions.append(.log("watching by inotify again", reason: nil)) }
        resynchronizations += 1
        return actions + enterInotify() + run(.reload(.resynchronize))
    }

    private mutating func directoryFailed(_ reason: WatchUnavailable) -> [Action] {
        directory = .none
        let gone = if case .watchFailed(_, let errno) = reason { Errno(rawValue: errno) == .noSuchFileOrDirectory } else { false }
        guard awaitingStart else { return [] }  // a retry failed: the timer tries again
        awaitingStart = false
        if gone { return enterInotify() + directoryGone(reload: .start) }
        return [.log("watching by polling", reason: reason.description)] + enterPolling(reason.description, retrying: true) + run(.reload(.start))
    }

    /// The directory is gone: watch its parent for its return, try again every poll interval (the
    /// parent may be gone too, or unwatchable), and reload once the parent's watch answered.
    private mutating func directoryGone(reload trigger: ReloadMachine.Trigger) -> [Action] {
        var actions = arm(.rearm, every: settings.pollInterval)
        guard parent == .none else {
            if parent == .pending { afterParent = trigger; return actions }
            return actions + run(.reload(trigger))
        }
        parent = .pending
        afterParent = trigger
        actions.append(.subscribe(.parent))
        return actions
    }

    private mutating func runAfterParent() -> [Action] {
        guard let trigger = afterParent else { return [] }
        afterParent = nil
        return run(.reload(trigger))
    }

    // MARK: Events

    /// A change of the state file's name is reloaded once per read, after any event before it; a
    /// temp file of ours closed after the last such change is read ahead (one closed and then
    /// renamed in the same read is not: the reload reads it anyway).
    private mutating func directoryEvents(_ events: [DirectoryEvent]) -> [Action] {
        var actions: [Action] = []
        var stateFileChanged = false
        var closedTemp: String?
        for event in events {
            switch event {
            case .changed(let name, _) where name == settings.stateFile:
                stateFileChanged = true
                closedTemp = nil
            case .changed(let name, let mask):
                if settings.readsAhead, mask & UInt32(IN_CLOSE_WRITE) != 0, name.hasPrefix(settings.tempPrefix) { closedTemp = name }
            case .overflow:
                if stateFileChanged { actions += run(.reload(.notified)) }
                stateFileChanged = false
                resynchronizations += 1
                actions += run(.reload(.resynchronize))
            case .watchRemoved:
                directory = .none
                return actions + directoryGone(reload: .resynchronize)
            case .watchLost(let reason):
                directory = .none
                return actions + [.log("inotify lost; watching by polling", reason: reason.description)]
                    + enterPolling(reason.description, retrying: true) + run(.reload(.resynchronize))
            }
        }
        if stateFileChanged { actions += run(.reload(.notified)) }
        if let closedTemp { actions += run(.readAhead(name: closedTemp)) }
        return actions
    }

    private mutating func timerFired(_ role: TimerRole) -> [Action] {
        guard timers.contains(role) else { return [] }  // a last tick of a timer cancelled
        switch role {
        case .poll: return run(.reload(.poll))
        case .consistencyCheck: return run(.reload(.consistencyCheck))
        case .retry: return cancel(.retry) + run(.reload(.retry))
        case .rearm, .inotifyRetry:
            guard directory == .none else { return [] }
            directory = .pending
            return [.subscribe(.directory)]
        }
    }

    // MARK: Modes, timers, jobs

    private mutating func enterInotify() -> [Action] {
        var actions = changeMode(to: .inotify) + cancel(.poll) + cancel(.inotifyRetry)
        if let interval = settings.consistencyCheckInterval { actions += arm(.consistencyCheck, every: interval) }
        return actions
    }

    private mutating func enterPolling(_ reason: String, retrying: Bool) -> [Action] {
        var actions = changeMode(to: .polling(reason: reason)) + cancel(.consistencyCheck) + arm(.poll, every: settings.pollInterval)
        if retrying { actions += arm(.inotifyRetry, every: settings.inotifyRetryInterval) }
        return actions
    }

    private mutating func changeMode(to new: WatchMode) -> [Action] {
        defer { mode = new }
        return mode == new || settings.forcePolling ? [] : [.changeMode(new)]
    }

    private mutating func arm(_ role: TimerRole, every interval: Duration) -> [Action] {
        guard !timers.contains(role) else { return [] }
        timers.insert(role)
        return [.arm(role, every: interval)]
    }

    private mutating func cancel(_ role: TimerRole) -> [Action] {
        timers.remove(role) == nil ? [] : [.cancel(role)]
    }

    /// Runs `job` now, or after the one running. A job queued already is not queued again; a
    /// read ahead replaces one queued (only the newest temp file can be the next version).
    private mutating func run(_ job: Job) -> [Action] {
        guard running != nil else {
            running = job
            return [.run(job)]
        }
        if case .readAhead = job { queued.removeAll { if case .readAhead = $0 { true } else { false } } }
        if !queued.contains(job) { queued.append(job) }
        return []
    }
}
