#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Foundation
import Logging
import Synchronization

/// Follows one store for one subscriber: arms inotify (or polls), reloads the state file when it
/// changes, verifies it, and hands each new version — or each problem — to `sink`.
///
/// Its work runs on its own serial queue (never the cooperative pool), except that a small state
/// file is reloaded right on the hub thread when its name arrives (see ``receive(_:)``).
/// Delivered versions rise strictly within one store identity.
final class StateFollower<State: Codable & Sendable>: Sendable {
    /// What a reload was asked for by; decides what counts as a missed notification.
    enum Trigger { case start, notified, poll, consistencyCheck, resynchronize }

    /// A file is counted as missed by inotify only if it changed longer ago than this when the
    /// consistency check found it (a notification may just be on its way).
    static var notificationGrace: Duration { .milliseconds(50) }

    private struct Progress {
        var mode: WatchMode = .inotify
        var subscription: UInt64?
        var lastIdentity: FileIdentity?
        var lastVersion: UInt64?
        var lastStoreID: String?
        var statistics = WatchStatistics()
        var reloadPending = false
        var gone = false
        var stopped = false
        var timers: [RepeatingTimer] = []
        var rearmTimer: RepeatingTimer?
    }

    private let handle: StoreHandle
    private let options: WatchOptions
    private let everyVersion: Bool
    private let hub: WatchHub
    private let queue: DispatchQueue
    private let sink: @Sendable (WatchEvent<State>) -> Void
    private let progress = Mutex(Progress())
    /// The last temp file of ours read ahead of its rename (see ``readAhead(_:)``).
    private let aheadOfRename = Mutex<ReadAhead<State>?>(nil)
    /// Serializes reloads between the hub thread (small files, see ``receive(_:)``) and the queue.
    private let reloadGate = Mutex(())

    /// The largest state file reloaded directly on the hub thread; larger ones go to the queue so
    /// that one big store cannot delay the notifications of every other store in the process.
    static var inlineReloadLimit: Int64 { 256 << 10 }

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

    /// Records that the subscriber already holds the version in the file `identity` names (a
    /// reader's first read), so that the first reload skips that file instead of reading it again.
    /// Call before ``start()``.
    func assumeHeld(identity: FileIdentity, version: UInt64, storeID: String) {
        progress.withLock { progress in
            progress.lastIdentity = identity
            progress.lastVersion = version
            progress.lastStoreID = storeID
        }
    }

    var mode: WatchMode { progress.withLock { $0.mode } }
    var statistics: WatchStatistics { progress.withLock { $0.statistics } }

    /// Arms the watch, then delivers the current version (the watch is armed before the first
    /// read, so a commit in between is never missed).
    func start() {
        queue.async { [self] in
            let mode = chooseMode()
            progress.withLock { $0.mode = mode }
            if case .polling(let reason) = mode, !options.forcePolling {
                handle.options.logger.warning(
                    "watching by polling", metadata: ["store": "\(handle.stateFilePath)", "reason": "\(reason)"])
            }
            switch mode {
            case .inotify:
                if let interval = options.consistencyCheckInterval { addTimer(every: interval, trigger: .consistencyCheck) }
            case .polling:
                addTimer(every: options.pollInterval, trigger: .poll)
            }
            reload(.start)
        }
    }

    /// Stops following: releases the watch and the timers. Safe to call more than once, and from
    /// any thread: it does not wait for the hub (it may run in a deinit on the cooperative pool).
    func stop() {
        let (subscription, timers) = progress.withLock { progress -> (UInt64?, [RepeatingTimer]) in
            guard !progress.stopped else { return (nil, []) }
            progress.stopped = true
            defer {
                progress.subscription = nil
                progress.timers = []
                progress.rearmTimer = nil
            }
            return (progress.subscription, progress.timers + [progress.rearmTimer].compactMap { $0 })
        }
        timers.forEach { $0.cancel() }
        if let subscription { hub.unsubscribe(subscription, waitForHub: false) }
    }

    // MARK: Arming

    /// The mode ``start()`` would choose, found by arming a watch (released by ``stop()``).
    func probeMode() -> WatchMode {
        queue.sync { chooseMode() }
    }

    private func chooseMode() -> WatchMode {
        if options.forcePolling { return .polling(reason: "polling was requested") }
        if let reason = unnotifiedFileSystem() { return .polling(reason: reason) }
        switch subscribe() {
        case .success: return .inotify
        case .failure(.watchFailed(_, let errno)) where errno == ENOENT:
            markGone()
            scheduleRearm()
            return .inotify
        case .failure(let reason): return .polling(reason: reason.description)
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
        guard let resolved = realpath(handle.directory, nil) else { return handle.directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private func addTimer(every interval: Duration, trigger: Trigger) {
        let timer = RepeatingTimer(every: interval, on: queue) { [weak self] in self?.reload(trigger) }
        progress.withLock { $0.timers.append(timer) }
    }

    /// After the directory went away: try to watch it again every poll interval.
    private func scheduleRearm() {
        let timer = RepeatingTimer(every: options.pollInterval, on: queue) { [weak self] in self?.rearm() }
        let previous = progress.withLock { progress -> RepeatingTimer? in
            defer { progress.rearmTimer = timer }
            return progress.rearmTimer
        }
        previous?.cancel()
    }

    private func rearm() {
        guard case .success = subscribe() else { return }
        let timer = progress.withLock { progress -> RepeatingTimer? in
            progress.statistics.resynchronizations += 1
            defer { progress.rearmTimer = nil }
            return progress.rearmTimer
        }
        timer?.cancel()
        reload(.resynchronize)
    }

    // MARK: Events

    /// Called on the hub thread. The state file's name arriving is reloaded right here when the
    /// file is small and no other reload is running: one thread wake-up from rename to delivery
    /// instead of two. Everything else is handed to the queue.
    private func receive(_ event: DirectoryEvent) {
        // Not when every version is wanted: filling a burst from history reads many files.
        let inline = !everyVersion && progress.withLock { ($0.lastIdentity?.size ?? 0) <= Self.inlineReloadLimit }
        if case .changed(let name, let mask) = event, name != handle.files.stateFile {
            // Temp files, history and other stores in the directory are not delivered; but a
            // temp file of ours just closed is the next version, complete, about to be fsynced
            // and renamed: reading it now leaves only a stat for the rename.
            if inline, mask & UInt32(IN_CLOSE_WRITE) != 0, name.hasPrefix(handle.files.tempPrefix) {
                _ = reloadGate.withLockIfAvailable { _ in readAhead(name) }
            }
            return
        }
        if inline, case .changed = event, reloadGate.withLockIfAvailable({ _ in reloadLocked(.notified) }) != nil {
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
            markGone()
            scheduleRearm()
        }
    }

    private func markGone() {
        let first = progress.withLock { progress -> Bool in
            defer {
                progress.gone = true
                progress.lastIdentity = nil
            }
            return !progress.gone
        }
        if first { sink(.storeGone(path: handle.stateFilePath)) }
    }

    // MARK: Reloading

    /// Re-reads the state file if it changed, and delivers what is new.
    private func reload(_ trigger: Trigger) {
        reloadGate.withLock { _ in reloadLocked(trigger) }
    }

    private func reloadLocked(_ trigger: Trigger) {
        let (stopped, last) = progress.withLock { ($0.stopped, $0.lastIdentity) }
        guard !stopped else { return }
        let ahead = aheadOfRename.withLock { $0 }
        // The file opened, unread when it is the one last delivered or reported, or the temp file
        // already read ahead of its rename.
        var opened: FileIdentity?
        var isReadAhead = false
        do {
            let file = try handle.readCurrent { status in
                opened = FileIdentity(status)
                isReadAhead = ahead?.isFile(status) ?? false
                return isReadAhead || (opened == last && trigger != .resynchronize)
            }
            if let file {
                try deliver(file, trigger: trigger)
            } else if isReadAhead, let ahead, let opened {
                try deliver(header: ahead.header, identity: opened, trigger: trigger) {
                    progress.withLock { $0.statistics.readAhead += 1 }
                    var snapshot = ahead.snapshot
                    snapshot.loadedAt = Date()  // it reached the reader now, not when it was read ahead
                    return snapshot
                }
            }
            // Used, or overtaken (a writer that died before its rename): let it go.
            let held = progress.withLock { $0.lastVersion }
            aheadOfRename.withLock { if let version = $0?.header.version, let held, version <= held { $0 = nil } }
        } catch where error.code == .notFound {
            markGone()
        } catch {
            // A file that could not be opened (permissions) is reported once too, not at every poll.
            report(error, identity: opened ?? (try? handle.calls.fstatat(AT_FDCWD, handle.stateFilePath)).map(FileIdentity.init))
        }
    }

    private func report(_ error: StateStoreError, identity: FileIdentity?) {
        progress.withLock { progress in
            progress.statistics.problems += 1
            progress.lastIdentity = identity  // report a bad file once, not at every poll
        }
        sink(.problem(error))
    }

    /// Reads a closed temp file of ours, the version a writer is about to rename over the state
    /// file, and keeps it verified and decoded (or nothing, if it is gone or does not verify);
    /// see ``ReadAhead``.
    private func readAhead(_ name: String) {
        guard !progress.withLock({ $0.stopped }) else { return }
        let path = handle.path(name)
        let ahead: ReadAhead<State>?
        if let file = try? StateFileReader(calls: handle.calls).read(directory: AT_FDCWD, name: path, path: path),
            let snapshot = try? file.snapshot(as: State.self, path: handle.stateFilePath)
        {
            ahead = ReadAhead(file: file.status, header: file.header, snapshot: snapshot)
        } else {
            ahead = nil
        }
        aheadOfRename.withLock { $0 = ahead }
    }

    private func deliver(_ file: VerifiedStateFile, trigger: Trigger) throws(StateStoreError) {
        try deliver(header: file.header, identity: FileIdentity(file.status), trigger: trigger) { () throws(StateStoreError) in
            try file.snapshot(as: State.self, path: handle.stateFilePath)
        }
    }

    private func deliver(
        header: StateFileHeader, identity: FileIdentity, trigger: Trigger,
        snapshot makeSnapshot: () throws(StateStoreError) -> StateSnapshot<State>
    ) throws(StateStoreError) {
        let (previousID, lastVersion) = progress.withLock { progress in
            progress.lastIdentity = identity
            progress.gone = false
            progress.statistics.reloads += 1
            return (progress.lastStoreID, progress.lastVersion)
        }
        var since = lastVersion
        if let previousID, previousID != header.store {
            sink(.storeReset(previousID: previousID, newID: header.store))
            since = nil
        }
        if let since, header.version <= since { return }
        if trigger == .consistencyCheck, isOlderThanGrace(identity) {
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
        sink(.snapshot(snapshot))
    }

    /// Delivers kept versions `first...last` from history, reporting the ones no longer kept.
    private func replayKept(from first: UInt64, upTo last: UInt64) throws(StateStoreError) {
        guard first <= last else { return }
        let dir = try handle.openDirectory()
        let history = handle.history(dir.rawValue)
        let kept = try history.versions().filter { $0 >= first && $0 <= last }
        let firstKept = kept.first ?? last + 1
        if firstKept > first { sink(.gap(missing: first...(firstKept - 1))) }
        var expected = firstKept
        for version in kept {
            if version > expected { sink(.gap(missing: expected...(version - 1))) }
            guard let snapshot = try? history.read(version: version).snapshot(as: State.self, path: history.path) else {
                sink(.gap(missing: version...version))  // pruned while we read
                expected = version + 1
                continue
            }
            progress.withLock { $0.statistics.delivered += 1 }
            sink(.snapshot(snapshot))
            expected = version + 1
        }
        if expected <= last { sink(.gap(missing: expected...last)) }
    }

    private func isOlderThanGrace(_ identity: FileIdentity) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowNanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        let grace = Self.notificationGrace.components
        return nowNanoseconds - identity.changeTime > grace.seconds * 1_000_000_000 + grace.attoseconds / 1_000_000_000
    }
}

/// The queue every follower's own queue targets, so that following many stores costs at most one
/// dispatch thread.
private let sharedTargetQueue = DispatchQueue(label: "StateCoordinator.watch")

