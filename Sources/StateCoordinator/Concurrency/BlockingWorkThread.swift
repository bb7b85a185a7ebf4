import DequeModule
import Foundation

/// A thread of the store's own that runs its blocking work (file reads, directory listings,
/// `stat`s, a hop to the watch loop) for async callers, in submission order, so that none of it
/// runs on Swift's cooperative thread pool (two threads on a 2-core machine: one slow read there
/// stalls every task of the process).
///
/// The thread starts with the first job and ends when the owner is deinitialized. A dedicated
/// thread rather than a Dispatch queue: Dispatch grows its pool slowly when its threads block,
/// and on a loaded 2-core machine a job could then wait for seconds.
final class BlockingWorkThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: Deque<@Sendable () -> Void> = []
    private var started = false
    private var ending = false
    private let name: String

    init(name: String) { self.name = name }

    /// Runs `work` on the thread and returns its result to the awaiting task.
    func run<T: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: Result { () throws(Failure) in try work() }) }
        }
        return try result.get()
    }

    /// Runs `work` on a thread of its own, for the static operations (create, import) that have no
    /// store yet. Thread creation costs tens of microseconds, which those calls can afford.
    static func runOnce<T: Sendable, Failure: Error>(
        _ name: String, _ work: @escaping @Sendable () throws(Failure) -> T
    ) async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: Result { () throws(Failure) in try work() }) }
            thread.name = name
            thread.start()
        }
        return try result.get()
    }

    /// Queues `job` to run on the thread, without waiting for it.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        if !started {
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = name
            thread.start()
        }
        condition.signal()
    }

    /// The thread holds a strong reference to `self` while it runs; ``end()`` lets it return.
    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !ending { condition.wait() }
            if jobs.isEmpty {
                // A job submitted after this starts a thread again (which ends once it ran).
                started = false
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Lets the thread end once the jobs already queued have run. A job submitted later still
    /// runs, on a thread started for it.
    func end() {
        condition.lock()
        ending = true
        condition.signal()
        condition.unlock()
    }
}
