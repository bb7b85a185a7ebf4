import Dispatch
import Foundation
import Logging
import Synchronization

/// Reloading: re-reading the state file when it changed (or skipping it when it is the version
/// held), and reporting a file that fails once.
extension StateFollower {
    /// Re-reads the state file if it changed, and delivers what is new.
    func reload(_ trigger: Trigger) {
        reloadGate.withLock { _ in _ = reloadLocked(trigger, inline: false) }
    }

    /// - Returns: false when the reload was left for the queue (a file too large for the loop thread).
    func reloadLocked(_ trigger: Trigger, inline: Bool) -> Bool {
        guard progress.withLock({ progress -> Bool in
            if !progress.stopped { progress.machine.reloadStarted() }
            return !progress.stopped
        }) else { return true }
        let ahead = aheadOfRename.withLock { $0 }
        let machine = progress.withLock { $0.machine }
        // The file opened, and what the machine made of it (``ReloadMachine/opened(_:isReadAhead:inline:)``).
        var opened: PinnedFile?
        var look = ReloadMachine.Look.read
        do {
            let file = try handle.readCurrent { file in
                opened = file
                look = machine.opened(file.status, isReadAhead: ahead?.isFile(file.status) == true, inline: inline)
                if look == .peekHeader { look = machine.peeked(file.header, status: file.status, inline: inline) }
                return look == .read ? .read : .skip
            }
            if look == .leaveForQueue { return false }
            if let file {
                try deliver(file, trigger: trigger)
            } else if look == .useReadAhead, let ahead, let opened {
                try deliver(header: ahead.header, file: opened, trigger: trigger) {
                    progress.withLock { $0.machine.deliveredReadAhead() }
                    var snapshot = ahead.snapshot
                    snapshot.loadedAt = Date()  // it reached the reader now, not when it was read ahead
                    snapshot.replacedAt = opened.status.renameTime  // the temp file's, stamped by the rename
                    return snapshot
                }
            }
            // Used, or overtaken (a writer that died before its rename): let it go.
            let last = progress.withLock { $0.machine.lastVersion }
            aheadOfRename.withLock { if let version = $0?.header.version, let last, version <= last { $0 = nil } }
        } catch where error.code == .notFound {
            markGone()
        } catch {
            fail(error, opened: opened)
        }
        return true
    }

    /// A reload failed: the machine decides what it is (``ReloadMachine/failed(_:)``). The file's
    /// I/O (a header pread, an fstatat) happens here, not under the progress lock.
    func fail(_ error: StateStoreError, opened: PinnedFile?) {
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
        perform(progress.withLock { $0.machine.failed(failure) }, error: error)
    }

    /// Carries out the machine's actions that need no version: problems, retries, the store gone.
    func perform(_ actions: [ReloadMachine.Action], error: StateStoreError?) {
        for action in actions {
            switch action {
            case .reportProblem:
                if let error { emit(.problem(error)) }
            case .scheduleRetry:
                queue.asyncAfter(deadline: .now() + options.pollInterval.dispatchInterval) { [weak self] in
                    guard let self else { return }
                    progress.withLock { $0.machine.retryFired() }
                    reload(.retry)
                }
            case .reportGone:
                emit(.storeGone(path: handle.stateFilePath))
            case .reportReset, .verifiedAgain, .replayKept, .decodeAndDeliver:
                break  // carried out by ``deliver(header:file:trigger:snapshot:)``
            }
        }
    }

    func isOlderThanGrace(_ status: FileStatus) -> Bool {
        let (age, overflow) = WallClock.nanoseconds.subtractingReportingOverflow(status.changeTimeNanoseconds)
        return overflow || age > Self.notificationGrace.saturatingNanoseconds
    }
}
