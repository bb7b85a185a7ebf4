import Dispatch
import Foundation
import Logging
import Synchronization

/// Delivering in order: each new version after the last one delivered, versions a burst
/// coalesced away replayed from history, and gaps for the ones no longer kept.
extension StateFollower {
    func deliver(_ file: VerifiedStateFile, trigger: Trigger) throws(StateStoreError) {
        try deliver(header: file.header, file: file.file, trigger: trigger) { () throws(StateStoreError) in
            try file.snapshot(as: State.self, path: handle.stateFilePath)
        }
    }

    /// Delivers the version in `file` if it is new (after any kept versions before it), and only
    /// then records the file as seen.
    func deliver(
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
            let recovered = progress.withLock { progress in
                progress.problemOutstanding && header.version == progress.lastVersion && header.checksum == progress.lastChecksum
            }
            recordSeen(file, header: header)
            if recovered { verifiedAgain?() }
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
            progress.lastChecksum = header.checksum
            progress.statistics.delivered += 1
        }
        recordSeen(file, header: header)
        emit(.snapshot(snapshot))
    }

    func recordSeen(_ file: PinnedFile, header: StateFileHeader) {
        progress.withLock { progress in
            progress.held = SeenVersion(status: file.status, header: header)
            progress.gone = false
            progress.reportedUnopenable = nil
            progress.reportedTransient = nil
            progress.problemOutstanding = false
        }
    }

    /// Delivers kept versions `first...last` from history, reporting the ones no longer kept.
    /// Each version delivered or reported missing counts as delivered at once, so that a retry
    /// after a failure part-way neither repeats nor skips one.
    func replayKept(from first: UInt64, upTo last: UInt64) throws(StateStoreError) {
        guard first <= last else { return }
        let dir = try handle.openDirectory()
        let history = dir.history
        let kept = try history.versions().filter { $0 >= first && $0 <= last }
        var expected = first
        for version in kept {
            if version > expected { reportGap(expected...(version - 1)) }
            let snapshot: StateSnapshot<State>
            do {
                snapshot = try history.read(version: version).snapshot(as: State.self, path: history.path, fromHistory: true)
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

    func reportGap(_ missing: ClosedRange<UInt64>) {
        progress.withLock { $0.lastVersion = missing.upperBound }
        emit(.gap(missing: missing))
    }
}
