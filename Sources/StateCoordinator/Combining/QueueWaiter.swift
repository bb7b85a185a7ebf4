import StateJSON
import SystemPackage

/// A writer's side of combining (<doc:OnDiskProtocol>, "Combining"): when the lock is held by
/// another process, publish the batch's mutations and wait for the lock **or** for the holder's
/// answers, whichever comes first.
enum QueueWaiter {
    /// How long a published update waits for its answer before it waits for the lock too.
    static var answerWindow: Duration { .milliseconds(2) }

    /// Takes the writer lock for `batch`, publishing its mutations while another process holds
    /// it. Returns the lock (the caller commits what is left of the batch; its published updates
    /// are settled by ``QueueRound/settleOwn(_:)``), or nil when every update was answered.
    ///
    /// A wait that times out withdraws what is still waiting (answered with the lock timeout:
    /// never committed); a request a holder took by then is waited for a while longer (one more
    /// lock timeout, for the holder to finish its commit), and then answered as unknown.
    static func lockOrAnswers<State>(
        _ batch: [PendingUpdate<State>], directory: StoreDirectory, handle: StoreHandle
    ) throws(StateStoreError) -> WriterLock? {
        let timeout = handle.options.lockTimeout
        if let lock = try directory.lockWriters(timeout: timeout, waiting: false, interruption: nil) { return lock }
        let state = try? handle.calls.fstatat(directory.descriptor, handle.files.stateFile)
        let storeMode = state?.permissions ?? 0o600
        let ids = batch.map { _ in QueueEntry.newID() }
        guard let queue = try? directory.mutationQueue(storeMode: storeMode, storeGroup: state?.group, creating: true),
            let answers = queue.answers(for: ids[0], creating: true)
        else {
            return try directory.lockWriters(timeout: timeout)
        }
        // First wait for the answers alone, watched by this thread: the holder of the moment
        // takes the requests with its next commit. A writer that parked a lock waiter at once
        // would leave it parked in `flock` once answered, and every release would then wake such
        // threads of every process.
        let deadline = ContinuousClock.now.advanced(by: timeout)
        AnswerWatch.using(answers.descriptor) { window in
            // The watch is in place before anything is published: no answer is missed.
            for (update, id) in zip(batch, ids) where update.beginPublishing() {
                guard let mutation = update.declarative else { continue }
                // Not published (the queue is full, not writable): committed by this process once it holds the lock.
                guard (try? queue.publish(QueuedRequest(id: id, mutation: mutation, expectedVersion: update.expectedVersion), storeMode: storeMode)) != nil
                else { continue }
                update.published = id
            }
            window?.wait(for: Set(batch.compactMap { $0.published }), until: min(deadline, ContinuousClock.now.advanced(by: answerWindow)))
        }
        collectAnswers(batch, queue: queue, answers: answers.descriptor)
        if batch.allSatisfy({ $0.isAnswered }) { return nil }
        // Then for the lock or the answers, whichever comes first.
        let interruption = LockWaitInterruption()
        let stopNotifying = QueueNotifier.notify(interruption, when: ids, answeredIn: answers.descriptor)
        defer { stopNotifying?() }
        collectAnswers(batch, queue: queue, answers: answers.descriptor)
        if batch.allSatisfy({ $0.isAnswered }) { return nil }
        while true {
            let lock: WriterLock?
            do {
                lock = try directory.lockWriters(timeout: timeout, waiting: true, interruption: interruption, until: deadline)
            } catch {
                // A timeout, or a lockfile that cannot be used: what this writer published must
                // not be committed after it was told it failed.
                withdraw(batch, after: error, queue: queue, answers: answers.descriptor, interruption: interruption, timeout: timeout)
                throw error
            }
            if let lock { return lock }
            interruption.reset()
            collectAnswers(batch, queue: queue, answers: answers.descriptor)
            if batch.allSatisfy({ $0.isAnswered }) { return nil }
        }
    }

    /// Answers `update` from its answer in the queue, if there is one (then removed); true if so.
    static func answer<State>(_ update: PendingUpdate<State>, from queue: MutationQueue, in answers: FileDescriptor, id: String) -> Bool {
        guard let answer = queue.answer(for: id, in: answers) else { return false }
        switch answer {
        case .success(let snapshot): update.succeedRemotely(with: snapshot)
        case .failure(let error): update.fail(error)
        }
        update.published = nil
        queue.collect(id, in: answers)
        return true
    }

    private static func collectAnswers<State>(_ batch: [PendingUpdate<State>], queue: MutationQueue, answers: FileDescriptor) {
        for update in batch {
            guard let id = update.published else { continue }
            _ = answer(update, from: queue, in: answers, id: id)
        }
    }

    /// After a lock timeout (or another failure to lock): withdraw what still waits (its update
    /// then fails with that error, which the caller throws); wait for the answers of what a
    /// holder took.
    private static func withdraw<State>(
        _ batch: [PendingUpdate<State>], after error: StateStoreError, queue: MutationQueue, answers: FileDescriptor,
        interruption: LockWaitInterruption, timeout: Duration
    ) {
        var taken: [PendingUpdate<State>] = []
        for update in batch {
            guard let id = update.published else { continue }
            if answer(update, from: queue, in: answers, id: id) { continue }
            if queue.withdraw(id) {
                update.published = nil
            } else {
                taken.append(update)
            }
        }
        guard !taken.isEmpty else { return }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            interruption.reset()
            collectAnswers(taken, queue: queue, answers: answers)
            if taken.allSatisfy({ $0.isAnswered }) { return }
            interruption.wait(until: deadline)
        }
        collectAnswers(taken, queue: queue, answers: answers)
        for update in taken where !update.isAnswered {
            var unknown = error
            unknown.message = "A lock holder took this update and did not answer within the lock timeout (\(timeout)); it may still commit it."
            unknown.outcome = .unknown
            unknown.hint = "Read the current state (statectl get) before retrying; and look at the lock's holder, which may be stopped."
            update.fail(unknown)
        }
    }
}
