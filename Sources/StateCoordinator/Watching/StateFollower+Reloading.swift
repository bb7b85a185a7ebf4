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
        let (stopped, held) = progress.withLock { progress in
            if !progress.stopped { progress.statistics.looks += 1 }
            return (progress.stopped, progress.held)
        }
        guard !stopped else { return true }
        let ahead = aheadOfRename.withLock { $0 }
        // The file opened; unread when it is the one last delivered or reported, or the temp file
        // already read ahead of its rename, or too large to read on the loop thread.
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
                    snapshot.replacedAt = opened.status.renameTime  // the temp file's, stamped by the rename
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
    func fail(_ error: StateStoreError, opened: PinnedFile?) {
        // The file's I/O (a header pread, an fstatat) happens here, not under the progress lock.
        let aboutTheFile: Set<StateStoreError.Code> = [.corrupt, .unverifiable, .badState, .tooLarge]
        var error = error
        let header = aboutTheFile.contains(error.code) ? opened?.header : nil
        let badFile = aboutTheFile.contains(error.code) ? opened.map { SeenVersion(status: $0.status, header: header) } : nil
        // A verified file whose state does not decode: the version a registered reader rejects.
        if error.code == .badState, let header {
            error.version = header.version
            error.storeID = header.store
        }
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
            state.problemOutstanding = true
            if error.code == .badState && error.version != nil { state.statistics.unusableVersions += 1 }
            return true
        }
        if report { emit(.problem(error)) }
    }

    func isOlderThanGrace(_ status: FileStatus) -> Bool {
        let (age, overflow) = WallClock.nanoseconds.subtractingReportingOverflow(status.changeTimeNanoseconds)
        return overflow || age > Self.notificationGrace.saturatingNanoseconds
    }
}
