import Foundation
import Logging

/// A batch of updates committed to a store on etcd: read the newest version (value and
/// `mod_revision`), plan the batch onto it (``BatchPlan``, as on a file store), and write the new
/// version with one transaction that holds only if the key's `mod_revision` is still the one
/// read. When another writer got there first, the transaction's failure branch returns the
/// version it wrote, in the same round trip, and the mutations run again on it (a bounded number
/// of times, with jittered backoff). A compare-and-swap update whose expected version is not the
/// newest fails at once.
///
/// A transaction whose answer is lost (a member died, a timeout) may or may not have been
/// applied, and may still be: a proposal outlives its client's timeout. It is never taken for
/// failed: the first change of the key after the revision the batch was planned on says
/// (``EtcdFirstChange``): ours (committed), another writer's (ours can never apply), or none
/// yet. While there is none the batch is planned again on the same revision, the lost
/// transactions remembered (``LostAnswers``): whichever change comes first, one of ours
/// (answered as committed, never applied again) or another's, decides.
///
/// A batch that follows this store object's own commit starts from the version that commit
/// wrote (``EtcdLastWrite``) instead of reading: the transaction's comparison is the read. If
/// another writer committed since, the failure branch returns its version and the batch runs
/// again on it, as after any lost race. Only a batch that would write is sent on that remembered
/// base: a refusal (a conflict, a mutation that throws) or a batch that changes nothing is never
/// answered from it, but planned again on a fresh read.
struct EtcdBatchCommit<State: Codable & Sendable> {
    let access: EtcdStoreAccess
    let options: StateStoreOptions
    let lastWrite: EtcdLastWrite

    func run(_ batch: [PendingUpdate<State>]) {
        var known = lastWrite.take()
        var remembered = known != nil
        var lost: LostAnswers?
        var attempt = 0
        // As long as a file store's writer waits for the lock: how long other writers may keep winning.
        let deadline = ContinuousClock.now + options.lockTimeout
        while true {
            let pending = batch.filter { !$0.isAnswered }
            guard !pending.isEmpty else { return }
            do {
                switch try runOnce(pending, base: known, remembered: remembered, lost: &lost) {
                case .done:
                    return
                case .readAgain:
                    known = nil
                    remembered = false
                case .lostRace(let current) where remembered:
                    // Not a race lost: the remembered base was stale, and the failure branch
                    // returned the newest version (as the read it replaced would have).
                    known = current
                    remembered = false
                case .lostRace(let current):
                    attempt += 1
                    guard ContinuousClock.now < deadline else {
                        // A transaction whose answer was lost may still land: then nothing is known.
                        let fate = lost == nil ? "this batch was not committed" : "a transaction of this batch whose answer was lost may still land"
                        let error = StateStoreError(
                            .lockTimeout,
                            "Other writers kept committing to \(access.keys.stateKey) for \(EtcdStoreAccess.seconds(options.lockTimeout)) (\(attempt) attempts); \(fate).",
                            hint: "Retry, or wait longer (StateStoreOptions.lockTimeout, statectl --lock-timeout).")
                        (lost == nil ? error.committedStateUnchangedMarked() : unknownOutcome(error, version: nil)).fail(pending)
                        return
                    }
                    known = current
                    remembered = false
                    backOff(attempt)
                }
            } catch {
                // A transaction whose answer was lost may still land: the failure cannot say "not committed".
                let error = lost != nil && error.outcome == nil ? unknownOutcome(error, version: nil) : error
                if pending.contains(where: { !$0.isAnswered }) {
                    options.logger.info("commit failed: \(error.code)", metadata: ["store": "\(access.location)"])
                }
                for update in pending { update.fail(error) }
                return
            }
        }
    }

    private enum Round {
        case done
        /// The remembered base cannot answer this batch: read the newest version (no back-off).
        case readAgain
        /// Another writer committed first: this is the version it wrote (nil: read it again).
        case lostRace(EtcdValue?)
    }

    /// Transactions of this batch whose answers were lost while the key still had not changed
    /// since the revision they were planned on: one of them may yet be applied.
    private struct LostAnswers {
        var base: Int64
        var attempts: [(file: [UInt8], snapshot: StateSnapshot<State>, accepted: [PendingUpdate<State>])] = []
    }

    private func runOnce(
        _ batch: [PendingUpdate<State>], base known: EtcdValue?, remembered: Bool, lost: inout LostAnswers?
    ) throws(StateStoreError) -> Round {
        let path = access.keys.stateKey
        let read: EtcdValue?
        if let known { read = known } else { read = try access.readState() }
        if let pending = lost, read?.modRevision != pending.base {
            // The key moved since the lost transactions' base: its first change says whether it was one of them.
            lost = nil
            let first: EtcdValue?
            do { first = try EtcdFirstChange(access: access).after(revision: pending.base) } catch {
                throw unknownOutcome(error, version: nil)
            }
            if let first, let mine = pending.attempts.first(where: { $0.file == first.bytes }) {
                for update in mine.accepted { update.succeed(with: mine.snapshot) }
                return .done
            }
        }
        guard let current = read else { throw EtcdStoreLocation.noStore(access) }
        let base = try EtcdVersion(current, path: path)
        let state = try StateEncoding.decode(State.self, from: base.stateBytes, path: path, source: .version(base.header.version))
        let baseSnapshot = StateSnapshot(header: base.header, state: state, fileSize: base.file.count)
        let plan = BatchPlan(
            batch,
            onto: BatchPlan.Base(
                version: base.header.version, settings: base.header.settings, state: state, checksum: base.header.checksum,
                stateBytes: base.header.stateBytes),
            changeSettings: { (update, settings) throws(StateStoreError) in
                try update.settingsChange?(&settings, .etcd(access))
                try EtcdStoreCreation.check(settings, access)
            },
            encode: { (state, settings) throws(StateStoreError) in try StateEncoding.encode(state, limit: settings.maximumStateBytes) },
            checkSchema: { (settings, bytes) throws(StateStoreError) in try checkSchema(settings, bytes) })
        if remembered {
            guard plan.refused.isEmpty, case .write = plan.decision else { return .readAgain }
        }
        for (update, refusal) in plan.refused {
            switch refusal {
            case .conflict(let expected, let current):
                update.fail(
                    StateStoreError(
                        .conflict, "Expected version \(expected) of \(path), but it is at version \(current).",
                        hint: "Nothing was committed. Read the current version and retry.", currentVersion: current))
            case .failed(let error): update.fail(error)
            }
        }
        switch plan.decision {
        case .nothing:
            return .done
        case .unchanged(let accepted, let newState):
            // The base was read linearizably just now (or returned by the failed transaction).
            var snapshot = baseSnapshot
            snapshot.state = newState
            for update in accepted { update.succeed(with: snapshot) }
            return .done
        case .oneByOne(let accepted):
            for update in accepted { run([update]) }
            return .done
        case .write(let version):
            return try write(version, onto: base, createRevision: current.createRevision, lost: &lost)
        }
    }

    private func write(
        _ version: BatchPlan<State>.NewVersion, onto base: EtcdVersion, createRevision: Int64, lost: inout LostAnswers?
    ) throws(StateStoreError) -> Round {
        let keys = access.keys
        let header = StateFileHeader.committing(
            store: base.header.store, version: base.header.version + 1, settings: version.settings, stateBytes: version.stateBytes,
            checksum: version.checksum, label: options.label)
        let file = StateFileCodec.encode(header: header, stateBytes: version.stateBytes)
        var success = [EtcdTransactions.put(keys.state, file)]
        success += EtcdHistoryRetention.operations(keeping: base, keys: keys, settings: version.settings)
        let request = EtcdTransactions.request(
            compare: [EtcdTransactions.modRevisionEquals(keys.state, base.modRevision)], success: success,
            failure: [EtcdTransactions.range(keys.state)])
        let result: EtcdStoreAccess.TransactionResult
        do {
            result = try access.transaction(request)
        } catch {
            switch try resolve(error, after: base, wrote: file) {
            case .ours:
                return answer(version, header: header, file: file)
            case .notApplied:
                return .lostRace(nil)
            case .notYet:
                // Planned again on the same revision; this attempt is remembered in case it lands first.
                if lost?.base != base.modRevision { lost = LostAnswers(base: base.modRevision) }
                lost?.attempts.append((file, StateSnapshot(header: header, state: version.state, fileSize: file.count), version.accepted))
                return .lostRace(nil)
            }
        }
        guard result.succeeded else {
            return .lostRace(result.ranges.first?.first)
        }
        lastWrite.remember(EtcdValue(key: keys.state, bytes: file, modRevision: result.revision, createRevision: createRevision))
        return answer(version, header: header, file: file)
    }

    private func answer(_ version: BatchPlan<State>.NewVersion, header: StateFileHeader, file: [UInt8]) -> Round {
        let snapshot = StateSnapshot(header: header, state: version.state, fileSize: file.count)
        for update in version.accepted { update.succeed(with: snapshot) }
        return .done
    }

    private enum Resolution {
        /// The key's first change after the base is this transaction: committed.
        case ours
        /// It is another writer's: this transaction's comparison can never hold.
        case notApplied
        /// The key has not changed: this transaction may still be applied.
        case notYet
    }

    /// Finds out what became of a transaction whose answer was lost, from the key's first change
    /// after `base`. Throws, with the outcome unknown, when that cannot be read (the cluster
    /// still unreachable, the revision compacted).
    private func resolve(_ failure: EtcdFailure, after base: EtcdVersion, wrote file: [UInt8]) throws(StateStoreError) -> Resolution {
        if case .refused(let rpc, _) = failure, !EtcdClient.isMemberFailure(rpc) {
            // The member refused the request (permission, size): nothing was applied.
            throw access.translate(failure, doing: "commit to", committed: false)
        }
        do {
            guard let change = try EtcdFirstChange(access: access).after(revision: base.modRevision) else { return .notYet }
            return change.bytes == file ? .ours : .notApplied
        } catch {
            throw unknownOutcome(error, version: base.header.version)
        }
    }

    /// The error for a batch whose transaction's fate cannot be found out.
    private func unknownOutcome(_ error: StateStoreError, version: UInt64?) -> StateStoreError {
        var unknown = error
        unknown.outcome = .unknown
        unknown.committedStateUnchanged = false
        let next = version.map { "version \($0 + 1)" } ?? "the next version"
        unknown.hint = "Read the current version (statectl get --meta) before retrying: \(next) may or may not be committed."
        return unknown
    }

    private func checkSchema(_ settings: StoreSettings, _ bytes: [UInt8]) throws(StateStoreError) {
        guard let checksum = settings.schema else { return }
        let schema = try EtcdSchema(access: access).load(checksum)
        if let violation = schema.firstViolation(of: try JSONValue.checked(bytes)) {
            throw SchemaFile.refusal(violation, path: access.keys.stateKey)
        }
    }

    /// Sleeps a random time, up to 250 µs doubled per race lost (at most 20 ms): writers that
    /// lost a race do not all come back at once, and the one that won does not win every time.
    private func backOff(_ attempt: Int) {
        let ceiling = min(20_000, 250 << min(attempt - 1, 7))
        usleep(UInt32.random(in: 0...UInt32(ceiling)))
    }
}

extension StateStoreError {
    /// This error, saying that the committed state is unchanged.
    fileprivate func committedStateUnchangedMarked() -> StateStoreError {
        var error = self
        error.committedStateUnchanged = true
        return error
    }

    /// Answers every update with this error.
    fileprivate func fail<State>(_ updates: [PendingUpdate<State>]) {
        for update in updates { update.fail(self) }
    }
}
