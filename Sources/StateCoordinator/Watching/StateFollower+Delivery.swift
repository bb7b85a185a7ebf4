import Foundation

/// Delivering in order: each new version after the last one delivered, versions a burst
/// coalesced away replayed from history, and gaps for the ones no longer kept.
extension StateFollower {
    /// - Returns: whether a retry is due (never: failures are thrown).
    func deliver(_ file: VerifiedStateFile, trigger: Trigger, _ machine: inout ReloadMachine) throws(StateStoreError) -> Bool {
        try deliver(header: file.header, file: file.file, trigger: trigger, &machine) { () throws(StateStoreError) in
            try file.snapshot(as: State.self, path: handle.stateFilePath)
        }
    }

    /// Delivers the version in `file` if it is new (after any kept versions before it), as the
    /// machine decides (``ReloadMachine/verified(_:seen:trigger:olderThanGrace:)``), and only then
    /// records the file as seen.
    /// - Returns: whether a retry is due (never: failures are thrown).
    func deliver(
        header: StateFileHeader, file: PinnedFile, trigger: Trigger, _ machine: inout ReloadMachine, readAhead: Bool = false,
        snapshot makeSnapshot: () throws(StateStoreError) -> StateSnapshot<State>
    ) throws(StateStoreError) -> Bool {
        let seen = SeenVersion(status: file.status, header: header)
        let olderThanGrace = trigger == .consistencyCheck && isOlderThanGrace(file.status)
        for action in machine.verified(header, seen: seen, trigger: trigger, olderThanGrace: olderThanGrace) {
            switch action {
            case .reportReset(let previousID, let newID):
                emit(.storeReset(previousID: previousID, newID: newID), counted: machine.statistics)
            case .verifiedAgain:
                if let verifiedAgain { whileDelivering(verifiedAgain) }
            case .replayKept(let range):
                try replayKept(from: range.lowerBound, upTo: range.upperBound, &machine)
            case .decodeAndDeliver:
                let snapshot = try makeSnapshot()
                machine.delivered(version: snapshot.version, storeID: snapshot.storeID, checksum: header.checksum, seen: seen)
                if readAhead { machine.deliveredReadAhead() }
                emit(.snapshot(snapshot), counted: machine.statistics)
            case .reportProblem, .scheduleRetry, .reportGone:
                break
            }
        }
        return false
    }

    /// Delivers kept versions `first...last` from history, reporting the ones no longer kept.
    /// Each version delivered or reported missing counts as delivered at once, so that a retry
    /// after a failure part-way neither repeats nor skips one.
    func replayKept(from first: UInt64, upTo last: UInt64, _ machine: inout ReloadMachine) throws(StateStoreError) {
        guard first <= last else { return }
        let dir = try handle.openDirectory()
        let history = dir.history
        let kept = try history.versions().filter { $0 >= first && $0 <= last }
        var expected = first
        for version in kept {
            if version > expected { reportGap(expected...(version - 1), &machine) }
            let snapshot: StateSnapshot<State>
            do {
                snapshot = try history.read(version: version).snapshot(as: State.self, path: history.path, fromHistory: true)
            } catch where [.notFound, .corrupt, .unverifiable, .badState, .tooLarge].contains(error.code) {
                reportGap(version...version, &machine)  // pruned while we read, or a kept file that cannot be used
                expected = version + 1
                continue
            }
            machine.replayed(version)
            emit(.snapshot(snapshot), counted: machine.statistics)
            expected = version + 1
        }
        if expected <= last { reportGap(expected...last, &machine) }
    }

    func reportGap(_ missing: ClosedRange<UInt64>, _ machine: inout ReloadMachine) {
        machine.gapReported(missing)
        emit(.gap(missing: missing), counted: machine.statistics)
    }
}
