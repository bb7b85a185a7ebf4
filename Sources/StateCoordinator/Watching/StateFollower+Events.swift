import Dispatch
import Foundation
import Logging
import Synchronization

/// Routing what the watch loop reports: names to reload or read ahead, overflows, a directory
/// gone or a watch lost.
extension StateFollower {
    /// Called on the loop thread. The state file's name arriving is reloaded right here when the
    /// file just opened is small and no other reload is running: one thread wake-up from rename
    /// to delivery instead of two. Everything else is handed to the queue.
    func receive(_ event: DirectoryEvent) {
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

    func handle(_ event: DirectoryEvent) {
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

    func markGone() {
        let first = progress.withLock { progress -> Bool in
            defer {
                progress.gone = true
                progress.held = nil
            }
            return !progress.gone
        }
        if first { emit(.storeGone(path: handle.stateFilePath)) }
    }
}
