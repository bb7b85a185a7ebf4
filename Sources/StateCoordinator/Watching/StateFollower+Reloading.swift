import Dispatch
import Foundation
import Logging
import Synchronization

/// Reloading: re-reading the state file when it changed (or skipping it when it is the version
/// held), and reporting a file that fails once. The I/O is here; the decisions are
/// ``ReloadMachine``'s.
extension StateFollower {
    /// Looks at the state file and delivers what is new.
    ///
    /// - Parameter inline: on the loop thread, where a large file is not read.
    func reload(_ trigger: Trigger, inline: Bool, _ lent: inout Lent) -> JobEnd {
        guard !isStopped else { return .done(retry: false) }
        let ahead = lent.ahead
        let machine = lent.reloader
        // The file opened, and what the machine made of it (``ReloadMachine/opened(_:isReadAhead:inline:)``).
        var opened: PinnedFile?
        var look = ReloadMachine.Look.read
        var retry = false
        do {
            let file = try handle.readCurrent { file in
                opened = file
                look = machine.opened(file.status, isReadAhead: ahead?.isFile(file.status) == true, inline: inline)
                if look == .peekHeader { look = machine.peeked(file.header, status: file.status, inline: inline) }
                return look == .read ? .read : .skip
            }
            if look == .leaveForQueue { return .tooLargeHere }
            // Filling a burst from history reads many files: not on the loop thread (rare: the
            // file just read is read again there).
            if let file, inline, lent.reloader.replays(file.header) { return .tooLargeHere }
            if let file {
                retry = try deliver(file, trigger: trigger, &lent.reloader)
            } else if look == .useReadAhead, let ahead, let opened {
                retry = try deliver(header: ahead.header, file: opened, trigger: trigger, &lent.reloader, readAhead: true) {
                    var snapshot = ahead.snapshot
                    snapshot.loadedAt = Date()  // it reached the reader now, not when it was read ahead
                    snapshot.replacedAt = opened.status.renameTime  // the temp file's, stamped by the rename
                    return snapshot
                }
            }
            // Used, or overtaken (a writer that died before its rename): let it go.
            if let version = lent.ahead?.header.version, let last = lent.reloader.lastVersion, version <= last { lent.ahead = nil }
        } catch where error.code == .notFound {
            let actions = lent.reloader.missing()
            retry = perform(actions, error: nil, counted: lent.reloader.statistics)
        } catch {
            retry = fail(error, opened: opened, &lent.reloader)
        }
        return .done(retry: retry)
    }

    /// A reload failed: the machine decides what it is (``ReloadMachine/failed(_:)``).
    /// - Returns: whether to retry.
    func fail(_ error: StateStoreError, opened: PinnedFile?, _ machine: inout ReloadMachine) -> Bool {
        let aboutTheFile: Set<StateStoreError.Code> = [.corrupt, .unverifiable, .badState, .tooLarge]
        var error = error
        let failure: ReloadMachine.Failure
        if aboutTheFile.contains(error.code), let opened {
            let header = opened.header
            // A verified file whose state does not decode: the version a registered reader rejects.
            if error.code == .badState, let header {
                error.version = header.version
                error.storeID = header.store
            }
            failure = .badFile(SeenVersion(status: opened.status, header: header), unusableVersion: error.code == .badState && header != nil)
        } else if aboutTheFile.contains(error.code) || error.code == .symbolicLink || error.code == .permissionDenied {
            failure = .unopenable(status: try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.stateFilePath))
        } else {
            failure = .transient(error.code)
        }
        let actions = machine.failed(failure)
        return perform(actions, error: error, counted: machine.statistics)
    }

    /// Carries out the machine's actions that need no version: problems, retries, the store gone.
    /// - Returns: whether a retry is due.
    func perform(_ actions: [ReloadMachine.Action], error: StateStoreError?, counted statistics: WatchStatistics) -> Bool {
        var retry = false
        for action in actions {
            switch action {
            case .reportProblem:
                if let error { emit(.problem(error), counted: statistics) }
            case .scheduleRetry:
                retry = true
            case .reportGone:
                emit(.storeGone(path: handle.stateFilePath), counted: statistics)
            case .reportReset, .verifiedAgain, .replayKept, .decodeAndDeliver:
                break  // carried out by ``deliver(header:file:trigger:_:snapshot:)``
            }
        }
        return retry
    }

    func isOlderThanGrace(_ status: FileStatus) -> Bool {
        let (age, overflow) = WallClock.nanoseconds.subtractingReportingOverflow(status.changeTimeNanoseconds)
        return overflow || age > Self.notificationGrace.saturatingNanoseconds
    }
}
