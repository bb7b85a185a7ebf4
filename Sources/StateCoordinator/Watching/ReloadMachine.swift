/// A follower's reload decisions, without I/O: what to do with the file found at the state file's
/// name, with a version verified there, with a failure, and with the file missing, given what was
/// delivered and reported before. Each event changes the state and returns what to do
/// (`(state, event) → (state, [action])`); ``StateFollower`` opens, reads, decodes and emits.
///
/// The rules it keeps: delivered versions rise strictly within one store identity; a file counts
/// as seen only once delivered (or reported as bad); a bad file, an unopenable one and a transient
/// failure are each reported once, and a transient one is retried; a file that verifies again
/// with the version already delivered clears a problem only if it is that very version.
struct ReloadMachine: Sendable {
    /// What a reload was asked for by; decides what counts as a missed notification.
    enum Trigger: Sendable { case start, notified, poll, consistencyCheck, resynchronize, retry }

    /// What to do with the file just opened at the state file's name.
    enum Look: Equatable, Sendable {
        /// It is the temp file read ahead of its rename: deliver that.
        case useReadAhead
        /// Its status is the version held's: read its header line to be sure.
        case peekHeader
        /// It is the version held (or a bad file already reported): leave it.
        case skip
        /// Too large to read on the loop thread: leave the reload to the follower's queue.
        case leaveForQueue
        /// Read, verify and decode it.
        case read
    }

    /// What a follower does after an event.
    enum Action: Equatable, Sendable {
        /// Tell the subscriber the store was re-created (a new identity).
        case reportReset(previousID: String, newID: String)
        /// The version already delivered verified again after a problem: clear it.
        case verifiedAgain
        /// Deliver the kept versions in this range from history first (gaps for the ones gone).
        case replayKept(ClosedRange<UInt64>)
        /// Decode the version and deliver it (then ``delivered(version:storeID:checksum:seen:)``).
        case decodeAndDeliver
        /// Tell the subscriber of the failure.
        case reportProblem
        /// Reload again after the poll interval (then ``retryFired()``).
        case scheduleRetry
        /// Tell the subscriber the store is gone.
        case reportGone
    }

    /// A failure's kind, as far as the decisions go.
    enum Failure: Equatable, Sendable {
        /// The file is bad (corrupt, foreign, undecodable, too large): kept as seen, reported once.
        /// `unusableVersion` when it verified but its state does not decode.
        case badFile(SeenVersion, unusableVersion: Bool)
        /// It cannot be opened (a link, no permission); `status` is what the name holds now.
        case unopenable(status: FileStatus?)
        /// Anything else (EMFILE, EIO, ENOMEM…): reported once per code, retried.
        case transient(StateStoreError.Code)
    }

    /// The most a file may hold to be read on the loop thread (see ``StateFollower``).
    let inlineLimit: Int64
    /// Fill versions a burst coalesced away from history.
    let everyVersion: Bool

    /// The version last delivered (or reported as a gap), and its store and checksum.
    private(set) var lastVersion: UInt64?
    private(set) var lastStoreID: String?
    private(set) var lastChecksum: String?
    /// The version last delivered, or a bad file already reported (see ``SeenVersion``).
    private(set) var held: SeenVersion?
    private(set) var reportedUnopenable: FileStatus?
    private(set) var reportedTransient: StateStoreError.Code?
    /// A problem was reported since a file last verified.
    private(set) var problemOutstanding = false
    private(set) var gone = false
    private(set) var retryPending = false
    var statistics = WatchStatistics()

    /// - Parameter since: the version after which to deliver (nil: from the current one).
    init(since: UInt64?, everyVersion: Bool, inlineLimit: Int64) {
        lastVersion = since
        self.everyVersion = everyVersion
        self.inlineLimit = inlineLimit
    }

    /// The subscriber already holds this version (a reader's first read).
    mutating func assumeHeld(_ seen: SeenVersion, version: UInt64, storeID: String) {
        held = seen
        lastVersion = version
        lastStoreID = storeID
        lastChecksum = seen.header?.checksum
    }

    /// A reload starts.
    mutating func reloadStarted() { statistics.looks += 1 }

    /// The state file was opened at its name: `status` is its status, `isReadAhead` whether it is
    /// the temp file read ahead of its rename.
    func opened(_ status: FileStatus, isReadAhead: Bool, inline: Bool) -> Look {
        if isReadAhead { return .useReadAhead }
        // Device and inode alone prove nothing (ext4 reuses inode numbers at once): a status match
        // is confirmed by the header.
        if let held, status.isSameFile(as: held.status), status.size == held.status.size,
            status.changeTimeNanoseconds == held.status.changeTimeNanoseconds
        {
            return .peekHeader
        }
        return inline && status.size > inlineLimit ? .leaveForQueue : .read
    }

    /// Its header line, peeked because its status is the version held's.
    func peeked(_ header: StateFileHeader?, status: FileStatus, inline: Bool) -> Look {
        if SeenVersion.sameVersion(header, held?.header) { return .skip }
        return inline && status.size > inlineLimit ? .leaveForQueue : .read
    }

    /// Whether delivering the version with this header would first replay kept versions from
    /// history (many files to read: not on the loop thread).
    func replays(_ header: StateFileHeader?) -> Bool {
        guard everyVersion, let header, let last = lastVersion else { return false }
        if let store = lastStoreID, store != header.store { return false }  // a reset starts afresh
        return header.version > last + 1
    }

    /// A version verified at the name (read now, or read ahead of its rename).
    ///
    /// - Parameter olderThanGrace: its file changed longer ago than a notification takes.
    mutating func verified(_ header: StateFileHeader, seen: SeenVersion, trigger: Trigger, olderThanGrace: Bool) -> [Action] {
        statistics.reloads += 1
        var actions: [Action] = []
        if let previous = lastStoreID, previous != header.store {
            lastStoreID = header.store
            lastVersion = nil
            actions.append(.reportReset(previousID: previous, newID: header.store))
        }
        if let last = lastVersion, header.version <= last {
            let recovered = problemOutstanding && header.version == last && header.checksum == lastChecksum
            recordSeen(seen)
            if recovered { actions.append(.verifiedAgain) }
            return actions
        }
        if trigger == .consistencyCheck, olderThanGrace { statistics.missedEvents += 1 }
        if everyVersion, let last = lastVersion, header.version > last + 1 { actions.append(.replayKept((last + 1)...(header.version - 1))) }
        actions.append(.decodeAndDeliver)
        return actions
    }

    /// A kept version was replayed from history.
    mutating func replayed(_ version: UInt64) {
        lastVersion = version
        statistics.delivered += 1
    }

    /// Kept versions were reported missing.
    mutating func gapReported(_ missing: ClosedRange<UInt64>) { lastVersion = missing.upperBound }

    /// The version verified was decoded and delivered.
    mutating func delivered(version: UInt64, storeID: String, checksum: String, seen: SeenVersion) {
        lastVersion = version
        lastStoreID = storeID
        lastChecksum = checksum
        statistics.delivered += 1
        recordSeen(seen)
    }

    /// A read ahead of its rename was delivered.
    mutating func deliveredReadAhead() { statistics.readAhead += 1 }

    private mutating func recordSeen(_ seen: SeenVersion) {
        held = seen
        gone = false
        reportedUnopenable = nil
        reportedTransient = nil
        problemOutstanding = false
    }

    /// A reload failed.
    mutating func failed(_ failure: Failure) -> [Action] {
        var actions: [Action] = []
        switch failure {
        case .badFile(let seen, let unusable):
            held = seen
            if unusable { statistics.unusableVersions += 1 }
        case .unopenable(let status):
            if let status, status == reportedUnopenable { return [] }
            reportedUnopenable = status
        case .transient(let code):
            if !retryPending {
                retryPending = true
                actions.append(.scheduleRetry)
            }
            if reportedTransient == code { return actions }
            reportedTransient = code
        }
        statistics.problems += 1
        problemOutstanding = true
        return actions + [.reportProblem]
    }

    /// The retry scheduled by ``failed(_:)`` is due.
    mutating func retryFired() { retryPending = false }

    /// The state file (or its directory) is missing.
    mutating func missing() -> [Action] {
        held = nil
        defer { gone = true }
        return gone ? [] : [.reportGone]
    }

    /// The follower stopped: nothing is held.
    mutating func stopped() { held = nil }
}
