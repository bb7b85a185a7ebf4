import DequeModule
import Dispatch
import class Foundation.NSCondition
import struct Foundation.Date
import Synchronization

/// Group commit: concurrent updates from one process queue here and are committed in call order,
/// as many as are waiting at once under a single lock hold, write and fsync.
///
/// All commits run on one serial dispatch queue owned by the store, never on Swift's cooperative
/// thread pool, so a slow fsync stalls no task. While one batch is being made durable, the next
/// one gathers.
final class CommitPipeline<State: Sendable>: Sendable {
    /// The most updates committed together; bounds the work done under one lock hold.
    static var maximumBatch: Int { 1024 }

    private let queue: DispatchQueue
    private let pending = Mutex<Deque<PendingUpdate<State>>>([])
    private let drainingThread = Mutex<ThreadIdentity?>(nil)
    /// Signalled after each update queued (for ``waitUntilWaiting(atLeast:timeout:)``).
    private let arrivals = NSCondition()
    private let commitBatch: @Sendable ([PendingUpdate<State>]) -> Void

    /// - Parameter commitBatch: commits one batch; runs on the pipeline's queue.
    init(label: String, commitBatch: @escaping @Sendable ([PendingUpdate<State>]) -> Void) {
        self.queue = DispatchQueue(label: label)
        self.commitBatch = commitBatch
    }

    /// How many updates wait for a batch (for tests).
    var waitingCount: Int { pending.withLock { $0.count } }

    /// Blocks the calling thread until at least `count` updates wait for a batch, or `timeout`
    /// passes; returns whether they do (for tests: a batch formed, proven without sleeping).
    func waitUntilWaiting(atLeast count: Int, timeout: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        arrivals.lock()
        defer { arrivals.unlock() }
        while waitingCount < count {
            if !arrivals.wait(until: deadline) { return waitingCount >= count }
        }
        return true
    }

    /// Queues an update, then wakes ``waitUntilWaiting(atLeast:timeout:)``: signalled under the
    /// condition's lock, so a waiter between its count check and its wait cannot miss it.
    private func enqueue(_ update: PendingUpdate<State>) {
        pending.withLock { $0.append(update) }
        arrivals.lock()
        arrivals.broadcast()
        arrivals.unlock()
    }

    /// Queues an update and returns; it is answered from the pipeline's queue.
    func submit(_ update: PendingUpdate<State>) {
        enqueue(update)
        queue.async { self.drain(gathering: true) }
    }

    /// The longest a drain waits for the updates its last batch answered to come back (see
    /// ``drain(gathering:)``); never more than half the last batch's commit took.
    static var longestGathering: Duration { .microseconds(200) }

    /// Queues an update and blocks the calling thread until it is answered.
    func submitAndWait(_ update: PendingUpdate<State>) throws(StateStoreError) {
        if drainingThread.withLock({ $0 == .current }) {
            throw StateStoreError(
                .reentrantUpdate, "An update was started from inside another update's mutation on the same store.",
                hint: "Return from the mutation first; a mutation must not update its own store.")
        }
        enqueue(update)
        queue.sync { self.drain(gathering: false) }
    }

    /// Commits batches until none waits.
    ///
    /// - Parameter gathering: after a batch of several updates, wait briefly (at most
    ///   ``longestGathering``, and half what that commit took) until as many updates wait as it
    ///   answered: tasks updating in a loop come straight back, and without the wait the next
    ///   batch would hold only those that queued during the commit (batches alternating in size,
    ///   half the tasks per commit). Only where the drain runs on the pipeline's own thread: a
    ///   caller blocked in ``submitAndWait(_:)`` drains on its own thread, and would be held
    ///   (it can still wait out a gathering already under way before its own drain starts).
    private func drain(gathering: Bool) {
        drainingThread.withLock { $0 = .current }
        defer { drainingThread.withLock { $0 = nil } }
        var last: (size: Int, took: Duration)?
        while true {
            if gathering, let last, last.size > 1, waitingCount < last.size {
                _ = waitUntilWaiting(atLeast: last.size, timeout: min(Self.longestGathering, last.took / 2))
            }
            guard let batch = nextBatch() else { return }
            let start = ContinuousClock.now
            commitBatch(batch)
            last = (batch.count, ContinuousClock.now - start)
        }
    }

    /// The longest run of waiting updates that can share one commit: a compare-and-swap update
    /// can only come first, because its expectation refers to the version before the batch.
    private func nextBatch() -> [PendingUpdate<State>]? {
        pending.withLock { queue in
            // Element by element: `Array(queue.prefix(count))` went through unspecialized slice
            // generics (their metadata looked up on each call), 4% of a lone writer's commit.
            guard let first = queue.popFirst() else { return nil }
            var batch = [first]
            while batch.count < Self.maximumBatch, let next = queue.first, next.expectedVersion == nil {
                batch.append(next)
                queue.removeFirst()
            }
            return batch
        }
    }
}
