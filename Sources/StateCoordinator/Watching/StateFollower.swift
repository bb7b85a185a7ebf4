import Dispatch
import Foundation
import Logging
import Synchronization

/// Follows one store for one subscriber: arms inotify (or polls), reloads the state file when it
/// changes, verifies it, and hands each new version — or each problem — to `sink`.
///
/// Its work runs on its own serial queue (never the cooperative pool), except that a small state
/// file is reloaded right on the hub thread when its name arrives (see ``receive(_:)``).
/// Delivered versions rise strictly within one store identity. A file counts as seen only once
/// it was delivered (or reported as bad): a transient failure (EMFILE, EIO) is retried.
/// Nothing is delivered after ``stop()``.
final class StateFollower<State: Codable & Sendable>: Sendable {
    /// What a reload was asked for by; decides what counts as a missed notification.
    enum Trigger { case start, notified, poll, consistencyCheck, resynchronize, retry }

    /// A file is counted as missed by inotify only if it changed longer ago than this when the
    /// consistency check found it (a notification may just be on its way).
    static var notificationGrace: Duration { .milliseconds(50) }

    /// The largest state file reloaded directly on the hub thread; larger ones go to the queue so
    /// that one big store cannot delay the notifications of every other store in the process.
    /// Judged by the size of the file just opened, not the previous one.
    static var inlineReloadLimit: Int64 { 256 << 10 }

    private enum TimerRole: Hashable { case poll, consistencyCheck, rearm, inotifyRetry }

    private struct Progress {
        var mode: WatchMode = .inotify
        var subscription: UInt64?
        /// While the directory is gone: a watch of its parent, for the directory coming back.
        var parentSubscription: UInt64?
        /// The version last delivered, or a bad file already reported (see ``SeenVersion``).
        var held: SeenVersion?
        /// A state file that could not be opened (a symbolic link, no permission): reported once.
        var reportedUnopenable: FileStatus?
        /// The code of the transient failure last reported, so that a persistent one is reported once.
        var reportedTransient: StateStoreError.Code?
        var lastVersion: UInt64?
        var lastStoreID: String?
        var statistics = WatchStatistics()
        var reloadPending = false
        var retryPending = false
        var gone = false
        var stopped = false
        var timers: [TimerRole: RepeatingTimer] = [:]
    }

    private let handle: StoreHandle
    private let options: WatchOptions
    private let everyVersion: Bool
    private let hub: WatchHub
    private let queue: DispatchQueue
    private let sink: @Sendable (WatchEvent<State>) -> Void
    private let progress = Mutex(Progress())
    /// The last temp file of ours read ahead of its rename (see ``readAhead(_:inline:)``).
    private let aheadOfRename = Mutex<ReadAhead<State>?>(nil)
    /// Serializes reloads between the hub thread (small files, see ``receive(_:)``) and the queue.
    private let reloadGate = Mutex(())

    /// - Parameters:
    ///   - since: deliver every version after this one (from history where kept) before the current
    ///     one; nil starts with the current version.
    ///   - everyVersion: fill versions a burst coalesced away from history, reporting gaps.
    init(
        handle: StoreHandle, options: WatchOptions, since: UInt64?, everyVersion: Bool, hub: WatchHub = .shared,
        sink: @escaping @Sendable (WatchEvent<State>) -> Void
    ) {
        self.handle = handle
        self.options = options
        self.everyVersion = everyVersion || since != nil
        self.hub = hub
        self.sink = sink
        self.queue = DispatchQueue(label: "StateCoordinator.watch.\(handle.files.name)", target: sharedTargetQueue)
        progress.withLock { $0.lastVersion = since }
    }

    /// Records that the subscriber already holds the version in `file` (a reader's first read),
    /// so that the first reload skips that file instead of reading it again. Call before ``start()``.
    func assumeHeld(_ seen: SeenVersion, version: UInt64, storeID: String) {
        progress.withLock { progress in
            progress.held = seen
            progress.lastVersion = version
            progress.lastStoreID = storeID
        }
    }

    var mode: WatchMode { progress.withLock { $0.mode } }
    var statistics: WatchStatistics { progress.withLock { $0.statistics } }
    var isStopped: Bool { progress.withLock { $0.stopped } }
    /// How many timers the follower runs (for tests).
    var timerCount: Int { progress.withLock { $0.timers.count } }
    /// Whether the follower holds a subscription of the watch hub.
    var isSubscribed: Bool { progress.withLock { $0.subscription != nil } }

    /// Arms the watch, then delivers the current version (the watch is armed before the first
    /// read, so a commit in between is never missed).
    func start() {
        queue.async { [self] in
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
    /// call more than once, and from any thread: it does not wait for the hub (it may run in a
    /// deinit on the cooperative pool).
    func stop() {
        let (subscriptions, timers) = progress.withLock { progress -> ([UInt64], [RepeatingTimer]) in
            guard !progress.stopped else { return ([], []) }
            progress.stopped = true
            defer {
                progress.subscription = nil
                progress.parentSubscription = nil
                progress.timers = [:]
                progress.held = nil
            }
            return ([progress.subscription, progress.parentSubscription].compactMap { $0 }, Array(progress.timers.values))
        }
        timers.forEach { $0.cancel() }
        aheadOfRename.withLock { $0 = nil }
        for subscription in subscriptions { hub.unsubscribe(subscription, waitForHub: false) }
        // An event being handed to the sink on another thread finishes before stop returns.
        sinkGate.lock()
        sinkGate.unlock()
    }

    // MARK: Arming

    /// The mode ``start()`` would choose, found by arming a watch (released by ``stop()``).
    func probeMode() -> WatchMode {
        queue.sync { chooseMode().mode }
    }

    /// The mode to follow in, and whether inotify is worth trying again later.
    private func chooseMode() -> (mode: WatchMode, retryable: Bool) {
        if options.forcePolling { return (.polling(reason: "polling was requested"), false) }
        if let reason = unnotifiedFileSystem() { return (.polling(reason: reason), false) }
        switch subscribe() {
        case .success: return (.inotify, false)
        case .failure(.watchFailed(_, let errno)) where errno == ENOENT:
            // Watching for the directory's return first: a consumer told it is gone may recreate it at once.
            scheduleRearm()
            markGone()
            return (.inotify, false)
        case .failure(let reason): return (.polling(reason: reason.description), true)
        }
    }

    /// Sets the mode and the timers that go with it.
    /// Tells the subscriber of a change of mode (a first mode of polling counts as one).
    private func enter(_ mode: WatchMode, retryingInotify: Bool) {
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
    private func unnotifiedFileSystem() -> String? {
        guard let dir = try? handle.openDirectory(), let kind = try? handle.fileSystemKind(dir) else { return nil }
        if let network = kind.networkName { return "\(handle.directory) is on \(network), where remote changes are not notified" }
        if kind.isFUSE { return "\(handle.directory) is on a FUSE file system, where changes may not be notified" }
        return nil
    }

    private func subscribe() -> Result<Void, WatchUnavailable> {
        let directory = canonicalDirectory()
        let result = hub.subscribe(directory: directory) { [weak self] event in
            self?.receive(event)
        }
        switch result {
        case .success(let id):
            let stale = progress.withLock { progress -> Bool in
                if progress.stopped { return true }
                progress.subscription = id
                return false
            }
            if stale { hub.unsubscribe(id) }
            return .success(())
        case .failure(let reason):
            return .failure(reason)
        }
    }

    private func canonicalDirectory() -> String {
        ProcessIdentity.canonicalPath(handle.directory) ?? handle.directory
    }

    /// Starts (or replaces) the timer of a role; nothing once stopped.
    private func addTimer(_ role: TimerRole, every interval: Duration, _ action: @escaping @Sendable (StateFollower) -> Void) {
        let timer = RepeatingTimer(every: interval, on: queue) { [weak self] in
            guard let self, !isStopped else { return }
            action(self)
        }
        let previous = progress.withLock { progress -> RepeatingTimer? in
            if progress.stopped { return timer }
            defer { progress.timers[role] = timer }
            return progress.timers[role]
        }
        previous?.cancel()
    }

    private func cancelTimers(_ roles: [TimerRole]) {
        let timers = progress.withLock { progress in roles.compactMap { progress.timers.removeValue(forKey: $0) } }
        timers.forEach { $0.cancel() }
    }

    /// After the directory went away: watch its parent for the directory's name coming back (so
    /// that the first commits to a recreated store are announced too), and try to watch it again
    /// every poll interval in any case (the parent may be gone as well, or unwatchable).
    private func scheduleRearm() {
        addTimer(.rearm, every: options.pollInterval) { $0.rearm() }
        watchParentForReturn()
        // It may have come back before the parent was watched.
        if progress.withLock({ $0.parentSubscription != nil }), (try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.directory)) != nil {
            queue.async { [self] in rearm() }
        }
    }

    private func watchParentForReturn() {
        guard progress.withLock({ $0.parentSubscription == nil && !$0.stopped }) else { return }
        let path = canonicalDirectory()
        let name = (path as NSString).lastPathComponent
        let parent = (path as NSString).deletingLastPathComponent
        guard !name.isEmpty, !parent.isEmpty, let resolved = ProcessIdentity.canonicalPath(parent) else { return }
        let result = hub.subscribe(directory: resolved) { [weak self] event in
            guard case .changed(name, let mask) = event, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0, let follower = self
            else { return }
            follower.queue.async { follower.rearm() }
        }
        guard case .success(let id) = result else { return }
        let stale = progress.withLock { progress -> Bool in
            guard !progress.stopped, progress.parentSubscription == nil, progress.subscription == nil else { return true }
            progress.parentSubscription = id
            return false
        }
        if stale { hub.unsubscribe(id) }
    }

    private func rearm() {
        guard progress.withLock({ $0.subscription == nil && !$0.stopped }) else { return }
        guard case .success = subscribe() else { return }
        cancelTimers([.rearm])
        if let parent = progress.withLock({ progress in defer { progress.parentSubscription = nil }; return progress.parentSubscription }) {
            hub.unsubscribe(parent)
        }
        progress.withLock { $0.statistics.resynchronizations += 1 }
        reload(.resynchronize)
    }

    /// While polling because inotify failed: try it again; on success, follow by inotify.
    private func retryInotify() {
        guard case .success = subscribe() else { return }
        handle.options.logger.info("watching by inotify again", metadata: ["store": "\(handle.stateFilePath)"])
        enter(.inotify, retryingInotify: false)
        progress.withLock { $0.statistics.resynchronizations += 1 }
        reload(.resynchronize)
    }

    // MARK: Events

    /// Called on the hub thread. The state file's name arriving is reloaded right here when the
    /// file just opened is small and no other reload is running: one thread wake-up from rename
    /// to delivery instead of two. Everything else is handed to the queue.
    private func receive(_ event: DirectoryEvent) {
        guard !isStopped else { return }
        // Not when every version is wanted: filling a burst from history reads many files.
        let inline = !everyVersion
        if case .changed(let name, let mask) = event, name != handle.files.stateFile {
            // Temp files, history and other stores in the directory are not delivered; but a
            // temp file of ours just closed is the next version, complete, about to be fsynced
            // and renamed: reading it now leaves only a stat for the rename.
            if inline, mask & UInt32(IN_CLOSE_WRITE) != 0, name.hasPrefix(handle.files.tempPrefix) {
                // Left for the queue when too large for this thread, or when a reload holds the gate.
                let done = reloadGate.withLockIfAvailable { _ in readAhead(name, inline: true) }
                if done != true { queue.async { [self] in reloadGate.withLock { _ in _ = readAhead(name, inline: false) } } }
            }
            return
        }
        if inline, case .changed = event, reloadGate.withLockIfAvailable({ _ in reloadLocked(.notified, inline: true) }) == true {
            return
        }
        queue.async { [self] in handle(event) }
    }

    private func handle(_ event: DirectoryEvent) {
        switch event {
        case .changed:
            let first = progress.withLock { progress -> Bool in
                defer { progress.reloadPending = true }
                return !progress.reloadPending
            }
            if first {
                queue.async { [self] in
                    progress.withLock { $0.reloadPending = false }
                    reload(.notified)
                }
            }
        case .overflow:
            progress.withLock { $0.statistics.resynchronizations += 1 }
            reload(.resynchronize)
        case .watchRemoved:
            progress.withLock { $0.subscription = nil }
            // Watching for the directory's return first: a consumer told it is gone may recreate it at once.
            scheduleRearm()
            markGone()
        case .watchLost(let reason):
            progress.withLock { $0.subscription = nil }
            handle.options.logger.info(
                "inotify lost; watching by polling", metadata: ["store": "\(handle.stateFilePath)", "reason": "\(reason)"])
            enter(.polling(reason: reason.description), retryingInotify: true)
            reload(.resynchronize)
        }
    }

    private func markGone() {
        let first = progress.withLock { progress -> Bool in
            defer {
                progress.gone = true
                progress.held = nil
            }
            return !progress.gone
        }
        if first { emit(.storeGone(path: handle.stateFilePath)) }
    }

    /// Hands an event to the subscriber unless the follower was stopped. Held while the sink
    /// runs, so that ``stop()`` returns only once no event is being handed over (recursive: a
    /// sink may stop its own follower).
    private let sinkGate = NSRecursiveLock()

    private func emit(_ event: WatchEvent<State>) {
        sinkGate.lock()
        defer { sinkGate.unlock() }
        guard !isStopped else { return }
        sink(event)
    }

    // MARK: Reloading

    /// Re-reads the state file if it changed, and delivers what is new.
    private func reload(_ trigger: Trigger) {
        reloadGate.withLock { _ in _ = reloadLocked(trigger, inline: false) }
    }

    /// - Returns: false when the reload was left for the queue (a file too large for the hub thread).
    private func reloadLocked(_ trigger: Trigger, inline: Bool) -> Bool {
        let (stopped, held) = progress.withLock { ($0.stopped, $0.held) }
        guard !stopped else { return true }
        let ahead = aheadOfRename.withLock { $0 }
        // The file opened; unread when it is the one last delivered or reported, or the temp file
        // already read ahead of its rename, or too large to read on the hub thread.
        var opened: PinnedFile?
        var isReadAhead = false
        var tooLargeHere = false
        do {
            let file = try handle.readCurrent { file in
                opened = file
                if ahead?.isFile(file.status) == true {
                    isReadAhead = true
                    return .skip
                }
                // Trusted even after lost events: a status match is confirmed by the header.
                if held?.matches(file, calls: handle.calls) == true { return .skip }
                if inline, file.status.size > Self.inlineReloadLimit {
                    tooLargeHere = true
                    return .skip
                }
                return .read
            }
            if tooLargeHere { return false }
            if let file {
                try deliver(file, trigger: trigger)
            } else if isReadAhead, let ahead, let opened {
                try deliver(header: ahead.header, file: opened, trigger: trigger) {
                    progress.withLock { $0.statistics.readAhead += 1 }
                    var snapshot = ahead.snapshot
                    snapshot.loadedAt = Date()  // it reached the reader now, not when it was read ahead
                    return snapshot
                }
            }
            // Used, or overtaken (a writer that died before its rename): let it go.
            let last = progress.withLock { $0.lastVersion }
            aheadOfRename.withLock { if let version = $0?.header.version, let last, version <= last { $0 = nil } }
        } catch where error.code == .notFound {
            markGone()
        } catch {
            fail(error, opened: opened)
        }
        return true
    }

    /// A reload failed. A bad file (corrupt, foreign, undecodable) is kept as seen and reported
    /// once; a file that cannot be opened is reported once; anything else is transient (EMFILE,
    /// EIO, ENOMEM…): reported, not recorded, and retried after the poll interval.
    private func fail(_ error: StateStoreError, opened: PinnedFile?) {
        // The file's I/O (a header pread, an fstatat) happens here, not under the progress lock.
        let aboutTheFile: Set<StateStoreError.Code> = [.corrupt, .unverifiable, .badState, .tooLarge]
        let badFile = aboutTheFile.contains(error.code) ? opened.map { SeenVersion(status: $0.status, header: $0.header) } : nil
        let unopenable = badFile == nil && (aboutTheFile.contains(error.code) || error.code == .symbolicLink || error.code == .permissionDenied)
        let unopenableStatus = unopenable ? try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.stateFilePath) : nil
        let report = progress.withLock { state -> Bool in
            if let badFile {
                state.held = badFile
            } else if unopenable {
                if let unopenableStatus, unopenableStatus == state.reportedUnopenable { return false }
                state.reportedUnopenable = unopenableStatus
            } else {
                if !state.retryPending {
                    state.retryPending = true
                    queue.asyncAfter(deadline: .now() + options.pollInterval.dispatchInterval) { [weak self] in
                        guard let self else { return }
                        progress.withLock { $0.retryPending = false }
                        reload(.retry)
                    }
                }
                if state.reportedTransient == error.code { return false }
                state.reportedTransient = error.code
            }
            state.statistics.problems += 1
            return true
        }
        if report { emit(.problem(error)) }
    }

    /// Reads a closed temp file of ours, the version a writer is about to rename over the state
    /// file, and keeps it verified and decoded (or nothing, if it is gone or does not verify);
    /// see ``ReadAhead``.
    /// - Returns: false when the file is too large to read on the hub thread.
    private func readAhead(_ name: String, inline: Bool) -> Bool {
        guard !isStopped else { return true }
        let path = handle.path(name)
        var tooLargeHere = false
        let read = try? StateFileReader(calls: handle.calls).read(directory: SystemCalls.currentDirectory, name: path, path: path) { file in
            guard inline, file.status.size > Self.inlineReloadLimit else { return .read }
            tooLargeHere = true
            return .skip
        }
        if tooLargeHere { return false }
        let ahead = read.flatMap { file in
            (try? file.snapshot(as: State.self, path: handle.stateFilePath)).map {
                ReadAhead(file: file.file, header: file.header, snapshot: $0)
            }
        }
        aheadOfRename.withLock { $0 = ahead }
        return true
    }

    private func deliver(_ file: VerifiedStateFile, trigger: Trigger) throws(StateStoreError) {
        try deliver(header: file.header, file: file.file, trigger: trigger) { () throws(StateStoreError) in
            try file.snapshot(as: State.self, path: handle.stateFilePath)
        }
    }

    /// Delivers the version in `file` if it is new (after any kept versions before it), and only
    /// then records the file as seen.
    private func deliver(
        header: StateFileHeader, file: PinnedFile, trigger: Trigger,
        snapshot makeSnapshot: () throws(StateStoreError) -> StateSnapshot<State>
    ) throws(StateStoreError) {
        let (previousID, lastVersion) = progress.withLock { progress in
            progress.statistics.reloads += 1
            return (progress.lastStoreID, progress.lastVersion)
        }
        var since = lastVersion
        if let previousID, previousID != header.store {
            progress.withLock { progress in
                progress.lastStoreID = header.store
                progress.lastVersion = nil
            }
            emit(.storeReset(previousID: previousID, newID: header.store))
            since = nil
        }
        guard since.map({ header.version > $0 }) ?? true else {
            recordSeen(file, header: header)
            return
        }
        if trigger == .consistencyCheck, isOlderThanGrace(file.status) {
            progress.withLock { $0.statistics.missedEvents += 1 }
        }
        if everyVersion, let since, header.version > since + 1 {
            try replayKept(from: since + 1, upTo: header.version - 1)
        }
        let snapshot = try makeSnapshot()
        progress.withLock { progress in
            progress.lastVersion = snapshot.version
            progress.lastStoreID = snapshot.storeID
            progress.statistics.delivered += 1
        }
        recordSeen(file, header: header)
        emit(.snapshot(snapshot))
    }

    private func recordSeen(_ file: PinnedFile, header: StateFileHeader) {
        progress.withLock { progress in
            progress.held = SeenVersion(status: file.status, header: header)
            progress.gone = false
            progress.reportedUnopenable = nil
            progress.reportedTransient = nil
        }
    }

    /// Delivers kept versions `first...last` from history, reporting the ones no longer kept.
    /// Each version delivered or reported missing counts as delivered at once, so that a retry
    /// after a failure part-way neither repeats nor skips one.
    private func replayKept(from first: UInt64, upTo last: UInt64) throws(StateStoreError) {
        guard first <= last else { return }
        let dir = try handle.openDirectory()
        let history = handle.history(dir.rawValue)
        let kept = try history.versions().filter { $0 >= first && $0 <= last }
        var expected = first
        for version in kept {
            if version > expected { reportGap(expected...(version - 1)) }
            let snapshot: StateSnapshot<State>
            do {
                snapshot = try history.read(version: version).snapshot(as: State.self, path: history.path)
            } catch where [.notFound, .corrupt, .unverifiable, .badState, .tooLarge].contains(error.code) {
                reportGap(version...version)  // pruned while we read, or a kept file that cannot be used
                expected = version + 1
                continue
            }
            progress.withLock { progress in
                progress.lastVersion = version
                progress.statistics.delivered += 1
            }
            emit(.snapshot(snapshot))
            expected = version + 1
        }
        if expected <= last { reportGap(expected...last) }
    }

    private func reportGap(_ missing: ClosedRange<UInt64>) {
        progress.withLock { $0.lastVersion = missing.upperBound }
        emit(.gap(missing: missing))
    }

    private func isOlderThanGrace(_ status: FileStatus) -> Bool {
        let (age, overflow) = ProcessIdentity.wallClockNanoseconds.subtractingReportingOverflow(status.changeTimeNanoseconds)
        return overflow || age > Self.notificationGrace.saturatingNanoseconds
    }
}

/// The queue every follower's own queue targets, so that following many stores costs at most one
/// dispatch thread.
private let sharedTargetQueue = DispatchQueue(label: "StateCoordinator.watch")
