import Dispatch
import Foundation
import Logging
import Synchronization

/// Routing what the watch loop reports: names to reload or read ahead, overflows, a directory
/// gone or a watch lost.
extension StateFollower {
    /// Called on the loop thread with the events of one read. The state file's name arriving is
    /// reloaded right here when the file just opened is small and no other reload is running: one
    /// thread wake-up from rename to delivery instead of two. A temp file of ours closed after the
    /// last rename of the batch is read ahead (a close followed in the same batch by the rename
    /// is not: the reload reads the file anyway). Everything else is handed to the queue.
    func receive(_ events: [DirectoryEvent]) {
        guard !isStopped else { return }
        // Not when every version is wanted: filling a burst from history reads many files.
        let inline = !everyVersion
        var stateFileChanged = false
        var closedTemp: String?
        for event in events {
            switch event {
            case .changed(let name, _) where name == handle.files.stateFile:
                stateFileChanged = true
                closedTemp = nil
            case .changed(let name, let mask):
                // Temp files, history and other stores in the directory are not delivered; but a
                // temp file of ours just closed is the next version, complete, about to be renamed.
                if inline, mask & UInt32(IN_CLOSE_WRITE) != 0, name.hasPrefix(handle.files.tempPrefix) { closedTemp = name }
            default:
                if stateFileChanged { stateFileChangedNow(inline: inline) }
                stateFileChanged = false
                queue.async { [self] in handle(event) }
            }
        }
        if stateFileChanged { stateFileChangedNow(inline: inline) }
        if let closedTemp {
            // Left for the queue when too large for this thread, or when a reload holds the gate.
            let done = reloadGate.withLockIfAvailable { _ in readAhead(closedTemp, inline: true) }
            if done != true { queue.async { [self] in reloadGate.withLock { _ in _ = readAhead(closedTemp, inline: false) } } }
        }
    }

    /// Reloads here when the gate is free and the file small, else on the queue.
    private func stateFileChangedNow(inline: Bool) {
        if inline, reloadGate.withLockIfAvailable({ _ in reloadLocked(.notified, inline: true) }) == true { return }
        queue.async { [self] in handle(.changed(name: handle.files.stateFile, mask: UInt32(IN_MOVED_TO))) }
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
            progress.withLock { $0.machine.statistics.resynchronizations += 1 }
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
        perform(progress.withLock { $0.machine.missing() }, error: nil)
    }
}
