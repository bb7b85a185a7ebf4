import Foundation
import Logging
import Metrics
import StateJSON
import SystemPackage

/// One lock hold of the commit protocol: lock → remove orphans → read and verify the current
/// version → apply each waiting mutation in call order → encode → atomic replace → unlock.
struct BatchCommit<State: Codable & Sendable> {
    let handle: StoreHandle
    let cache: CommitCache<State>
    let sweeps: SweepSchedule
    let scratch: EncodingScratch

    /// The committed version the next mutation applies to.
    private struct Base {
        var header: StateFileHeader
        var status: FileStatus
        var state: State
        /// The size of its file (header and state).
        var fileSize: Int
        /// Whether this process committed it in this lock hold (then the cache is refreshed).
        var committedHere = false
        /// Its file's status right after the rename, when this process committed it.
        var committedStatus: FileStatus?

        var snapshot: StateSnapshot<State> { StateSnapshot(header: header, state: state, fileSize: fileSize) }
    }

    /// How often a batch whose lockfile was replaced under it (nothing committed) is run again
    /// on the new lockfile before its updates fail with ``StateStoreError/Code/lockLost``.
    static var lockLostRetries: Int { 3 }

    /// Commits a batch and answers every update in it. A batch that lost its lock before the
    /// rename (the lockfile was replaced) is run again from a fresh lock and base: its mutations
    /// may run again, as they may when a batch is split.
    func run(_ batch: [PendingUpdate<State>]) {
        var attempt = 0
        while true {
            let pending = batch.filter { !$0.isAnswered }
            guard !pending.isEmpty else { return }
            do {
                try runOnce(pending)
                return
            } catch where error.code == .lockLost && error.outcome == nil && attempt < Self.lockLostRetries {
                attempt += 1
                cache.store(nil)
                sweeps.forget()
                handle.options.logger.info(
                    "the lockfile was replaced during a commit; committing again on the new one",
                    metadata: ["store": "\(handle.stateFilePath)", "attempt": "\(attempt)"])
            } catch {
                cache.store(nil)
                sweeps.forget()
                // Not logged when every update of the batch was cancelled meanwhile: nobody waits.
                if pending.contains(where: { !$0.isAnswered }) { log(error) }
                for update in pending { update.fail(error) }
                return
            }
        }
    }

    /// A failed batch is logged once, at info (the caller gets the error too): what failed, the
    /// store, and for a lock timeout who holds the lock.
    private func log(_ error: StateStoreError) {
        var metadata: Logger.Metadata = ["store": "\(handle.stateFilePath)"]
        if let step = error.step { metadata["step"] = "\(step)" }
        if let errno = error.errno { metadata["errno"] = "\(errno.symbolicName)" }
        if let outcome = error.outcome { metadata["outcome"] = "\(outcome)" }
        if let holder = error.lockHolder {
            metadata["holderPID"] = "\(holder.pid)"
            if let command = holder.command { metadata["holderCommand"] = "\(command)" }
        }
        handle.options.logger.info("commit failed: \(error.code)", metadata: metadata)
    }

    private func runOnce(_ batch: [PendingUpdate<State>]) throws(StateStoreError) {
        let dir = try handle.openDirectory()
        let waitStart = ContinuousClock.now
        let combining = handle.options.combinesUpdates && State.self == JSONValue.self && batch.allSatisfy { $0.isPublishable }
        let lock: WriterLock
        do {
            if combining {
                // Answered by the lock holder (another process) before this one got the lock.
                guard let held = try QueueWaiter.lockOrAnswers(batch, directory: dir, handle: handle) else {
                    handle.metrics?.lockWait.record(duration: ContinuousClock.now - waitStart)
                    return
                }
                lock = held
            } else {
                lock = try dir.lockWriters(timeout: handle.options.lockTimeout)
            }
        } catch {
            if error.code == .lockTimeout { handle.metrics?.lockTimeouts.increment() }
            throw error
        }
        handle.metrics?.lockWait.record(duration: ContinuousClock.now - waitStart)
        let commitStart = ContinuousClock.now
        defer { handle.metrics?.commitDuration.record(duration: ContinuousClock.now - commitStart) }
        do {
            try commitHolding(lock, batch: batch, directory: dir)
            lock.release()
        } catch {
            // What this process published must not be committed by a later holder after its
            // caller was told of this error.
            _ = withdrawPublished(batch, directory: dir)
            throw error
        }
    }

    /// Own updates still published when this holder cannot settle them through the queue (it
    /// cannot be opened, or the commit failed before it got there): withdrawn (then they are never
    /// committed by anyone), or, when that fails, answered from their answer, or as unknown.
    /// Returns those left to commit here.
    private func withdrawPublished(_ updates: [PendingUpdate<State>], directory: StoreDirectory) -> [PendingUpdate<State>] {
        guard updates.contains(where: { $0.published != nil }) else { return updates }
        let state = try? handle.calls.fstatat(directory.descriptor, handle.files.stateFile)
        let queue = try? directory.mutationQueue(storeMode: state?.permissions ?? 0o600, storeGroup: state?.group)
        return updates.filter { update in
            guard let id = update.published else { return true }
            if let queue, queue.withdraw(id) {
                update.published = nil
                return true
            }
            if let queue, let answers = queue.answers(for: id, creating: false),
                QueueWaiter.answer(update, from: queue, in: answers.descriptor, id: id)
            {
                return false
            }
            update.fail(QueueAnswer.unknown("its request could not be withdrawn from \(handle.files.queueDirectory)").error(path: handle.stateFilePath))
            return false
        }
    }

    /// The lock hold's work once the lock is held (see ``runOnce(_:)``).
    private func commitHolding(_ lock: borrowing WriterLock, batch: [PendingUpdate<State>], directory dir: StoreDirectory) throws(StateStoreError) {
        // Its device and inode are all the schedule keeps, and they cannot change during the hold.
        let directoryStatus = try? handle.calls.fstat(dir.descriptor)
        let listing = sweeps.needsListing(directoryStatus)
        if listing { try dir.orphanSweeper.sweep(logger: handle.options.logger) }
        var base = try currentBase(dir)
        // Every writer settles what a combining holder that died left; a combining one then
        // answers its own published updates and takes the ones others published.
        var own = batch
        var taken: [PendingUpdate<State>] = []
        let round: QueueRound<State>?
        do {
            round = try QueueRound<State>.begin(directory: dir, handle: handle, current: base.header, storeMode: base.status.permissions, storeGroup: base.status.group)
        } catch {
            // A queue that cannot be used (planted, unreadable) is passed over: this commit goes on alone.
            handle.options.logger.warning("the store's queue is not used", metadata: ["store": "\(handle.stateFilePath)", "error": "\(error)"])
            round = nil
            own = withdrawPublished(batch, directory: dir)
        }
        if var round {
            own = round.settleOwn(batch)
            if handle.options.combinesUpdates {
                taken = round.take(
                    after: own.filter { !$0.isAnswered }, directory: dir, handle: handle,
                    limit: base.header.settings.maximumStateBytes + (64 << 10), expected: base.header.combined?.count ?? 0)
            }
        }
        // Every update may have been cancelled while the lock was awaited: then nothing is left to do.
        guard own.contains(where: { !$0.isAnswered }) || !taken.isEmpty else { return }
        // A compare-and-swap request taken goes first (``QueueRound/take(after:directory:handle:limit:expected:)``).
        let ordered =
            taken.first?.expectedVersion != nil ? [taken[0]] + own + taken.dropFirst() : own + taken
        var buffer = scratch.take()
        do {
            try commit(ordered, onto: &base, directory: dir, lock: lock, buffer: &buffer)
        } catch {
            for update in taken where !update.isAnswered { update.fail(error) }
            throw error
        }
        // The plan and its state bytes are gone: the buffer is this commit's alone again.
        scratch.giveBack(buffer)
        if base.committedHere {
            // With the lock still held no writer of the protocol can have replaced the file.
            cache.store(
                (base.committedStatus ?? (try? handle.calls.fstatat(dir.descriptor, handle.files.stateFile))).map {
                    CommitCache.Entry(
                        seen: SeenVersion(status: $0, header: base.header), header: base.header, status: base.status, state: base.state)
                })
        }
        sweeps.noteReleasing(directoryStatus, listed: listing)
    }

    /// The current version: the one this process committed last if the file is untouched since,
    /// else read, verified and decoded from the file. One open either way: the file opened to
    /// compare with the cache is the one read when it differs.
    private func currentBase(_ dir: StoreDirectory) throws(StateStoreError) -> Base {
        var cached: CommitCache<State>.Entry?
        let read = try handle.readCurrent(directory: dir.descriptor) { file in
            cached = cache.entry(matching: file, calls: handle.calls)
            return cached == nil ? .read : .skip
        }
        if let cached {
            return Base(header: cached.header, status: cached.status, state: cached.state, fileSize: Int(cached.seen.status.size))
        }
        guard let current = read else {
            // The reader skips only what the closure said to skip, which it says only with an entry.
            throw StateStoreError(.corrupt, "\(handle.stateFilePath) could not be read.", path: handle.stateFilePath)
        }
        return Base(
            header: current.header, status: current.status,
            state: try StateEncoding.decode(State.self, from: current.stateBytes, path: handle.stateFilePath, source: .version(current.header.version)),
            fileSize: current.fileSize)
    }

    /// Plans the updates onto `base` (``BatchPlan``) and does what the plan decides: nothing, answer
    /// with the base when the mutations changed nothing (unless one asked to commit anyway), write
    /// one new version, or, when the combined state cannot be committed (too large, NaN, against
    /// the schema), commit each update on its own so that only the offending one fails. An update
    /// cancelled before its mutation ran is skipped: it was answered with `CancellationError` already.
    private func commit(
        _ updates: [PendingUpdate<State>], onto base: inout Base, directory: StoreDirectory, lock: borrowing WriterLock,
        buffer: inout [UInt8]
    ) throws(StateStoreError) {
        let plan = BatchPlan(
            updates,
            onto: BatchPlan.Base(
                version: base.header.version, settings: base.header.settings, state: base.state, checksum: base.header.checksum,
                stateBytes: base.header.stateBytes),
            changeSettings: { (update, settings) throws(StateStoreError) in try update.settingsChange?(&settings, .directory(directory.descriptor)) },
            encode: { (state, settings) throws(StateStoreError) in
                try StateEncoding.encode(state, limit: settings.maximumStateBytes, into: &buffer)
                return buffer
            },
            checkSchema: checkSchema)
        for (update, refusal) in plan.refused {
            switch refusal {
            case .conflict(let expected, let current): update.fail(conflict(expected: expected, current: current))
            case .failed(let error): update.fail(error)
            }
        }
        switch plan.decision {
        case .nothing:
            return
        case .oneByOne(let accepted):
            try commitOneByOne(accepted, onto: &base, directory: directory, lock: lock, buffer: &buffer)
        case .unchanged(let accepted, let state):
            // The mutations decided on this base only if the lock still excludes every writer: if
            // the lockfile was replaced, another writer may have committed meanwhile (a halt the
            // mutation did not see), so the batch is run again on the new lockfile.
            try lock.checkStillNamed()
            let unchanged = StateSnapshot(header: base.header, state: state, fileSize: base.fileSize)
            for update in accepted { update.succeed(with: unchanged) }
        case .write(let version):
            handle.metrics?.batchSize.record(version.accepted.count)
            let snapshot = try write(version, onto: &base, directory: directory, lock: lock)
            for update in version.accepted { update.succeed(with: snapshot) }
        }
    }

    /// Throws ``StateStoreError/Code/schemaViolation`` when the store has a schema and the state
    /// breaks it (or the schema file cannot be used: then nothing can be checked, and nothing is
    /// committed).
    private func checkSchema(_ settings: StoreSettings, stateBytes: [UInt8]) throws(StateStoreError) {
        guard let checksum = settings.schema else { return }
        let schema = try SchemaFile(handle: handle).load(checksum)
        if let violation = schema.firstViolation(of: try JSONValue.checked(stateBytes)) {
            throw SchemaFile.refusal(violation, path: handle.stateFilePath)
        }
    }

    /// Commits each update on its own (their combined state could not be encoded). A failure at
    /// the rename is that update's alone: the ones after it were never written, and are told so,
    /// not handed an error that may say "committed".
    private func commitOneByOne(
        _ updates: [PendingUpdate<State>], onto base: inout Base, directory: StoreDirectory, lock: borrowing WriterLock,
        buffer: inout [UInt8]
    ) throws(StateStoreError) {
        for (position, update) in updates.enumerated() {
            do {
                try commit([update], onto: &base, directory: directory, lock: lock, buffer: &buffer)
            } catch where error.code == .lockLost && error.outcome == nil {
                // Nothing of this update or the later ones was committed: all of them are run again
                // on the new lockfile (``run(_:)``), or fail there.
                throw error
            } catch {
                update.fail(error)
                let rest = StateStoreError(
                    error.code == .lockLost ? .lockLost : .ioFailure,
                    "An earlier update of the same batch failed (\(error.code)); this one was not committed.",
                    hint: "Nothing of this update was written; retry it.", outcome: .notCommitted)
                for later in updates[(position + 1)...] { later.fail(rest) }
                throw error
            }
        }
    }

    private func conflict(expected: UInt64, current: UInt64) -> StateStoreError {
        handle.metrics?.conflicts.increment()
        return StateStoreError(
            .conflict, "Expected version \(expected) of \(handle.stateFilePath), but it is at version \(current).",
            hint: "Nothing was committed. Read the current version and retry.", currentVersion: current)
    }

    /// Writes the next version and makes it the base, the steps of a ``PendingFile`` in order: the
    /// temp file is created, written, closed and fsynced (closed first, so that watchers read it
    /// during the fsync; see ``PendingFile``); then the lock is checked and the outgoing version
    /// linked into history; then the rename.
    private func write(
        _ version: BatchPlan<State>.NewVersion, onto base: inout Base, directory: StoreDirectory, lock: borrowing WriterLock
    ) throws(StateStoreError) -> StateSnapshot<State> {
        guard base.header.version < UInt64.max else {
            throw StateStoreError(
                .corrupt, "\(handle.stateFilePath) is at version \(base.header.version), the largest there is: no version can follow it.",
                hint: "Nothing was committed. A writer of this package never gets there; re-create the store (statectl init --force).",
                path: handle.stateFilePath)
        }
        let combined = version.accepted.compactMap { $0.queueID }
        let header = StateFileHeader.committing(
            store: base.header.store, version: version.mirroredVersion ?? base.header.version + 1, settings: version.settings, stateBytes: version.stateBytes,
            checksum: version.checksum, label: handle.options.label, combined: combined.isEmpty ? nil : combined)
        let headerLine = StateFileCodec.headerLine(header)
        let outgoing = base.header
        let durability = handle.options.durability
        // A durable version never names a schema file that a power loss could empty.
        if durability != .none, let schema = version.settings.schema {
            try SchemaFile(handle: handle).makeDurable(schema, directory: directory.descriptor)
        }
        let pending = try PendingFile.create(
            in: directory.pendingFileTarget, prefix: handle.files.tempPrefix,
            attributes: .init(mode: base.status.permissions, owner: ownerToKeep(base.status)), synchronizingAfterClose: durability != .none)
        try pending.write(headerLine, then: version.stateBytes)
        if durability != .none, !pending.synchronizesAfterClose { try pending.synchronize(timer: handle.metrics?.fileSyncDuration) }
        try pending.close()
        if pending.synchronizesAfterClose { try pending.synchronize(timer: handle.metrics?.fileSyncDuration) }
        // The lockfile may have been replaced while we held the lock on the old one (an operator
        // deleting it, `init --force`): then another writer may hold the new one.
        try lock.checkStillNamed()
        if outgoing.settings.keepsHistory, version.settings.keepsHistory {
            try directory.history.keep(version: outgoing.version, settings: outgoing.settings, synchronize: durability == .full)
        }
        let committedStatus: FileStatus
        do {
            committedStatus = try pending.replace(handle.files.stateFile, durability: durability, timer: handle.metrics?.directorySyncDuration)
        } catch where error.outcome == .committedDurabilityUnknown {
            var error = error
            error.currentVersion = header.version  // ``StateStoreError/description`` says it is visible
            throw error
        } catch where error.outcome == .unknown {
            var error = error
            error.hint = "Read the current version (statectl get --meta) before retrying: version \(header.version) may or may not be committed."
            throw error
        }
        base = Base(header: header, status: base.status, state: version.state, fileSize: headerLine.count + version.stateBytes.count, committedHere: true,
            committedStatus: committedStatus)
        return base.snapshot
    }

    /// A root writer gives the new file the owner and group of the old one, so that a store owned
    /// by a service account stays writable by it after an operator's update.
    private func ownerToKeep(_ status: FileStatus) -> (user: UInt32, group: UInt32)? {
        ProcessIdentity.isRoot ? (status.owner, status.group) : nil
    }
}
