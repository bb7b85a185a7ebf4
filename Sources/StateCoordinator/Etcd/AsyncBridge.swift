import Foundation
import Synchronization

/// Runs async work from a thread that may block (a store's own thread, a commit thread, a
/// script's main thread) and waits for it. The gRPC client is async and non-blocking; the
/// backend's methods are synchronous because the file backend's are: this is the one place they
/// meet.
///
/// The work runs on ``EtcdTaskExecutor``'s thread, not on Swift's cooperative pool: a caller that
/// is itself on the pool (a synchronous function called from a task) blocks one of its threads
/// while it waits, and the work must not need another. The store's async methods reach it
/// through their own thread (``BlockingWorkThread``) all the same, never from a task.
enum AsyncBridge {
    static func wait<T: Sendable, Failure: Error>(_ work: @escaping @Sendable () async throws(Failure) -> T) throws(Failure) -> T {
        let box = ResultBox<T, Failure>()
        Task(executorPreference: EtcdTaskExecutor.shared) {
            let result: Result<T, Failure>
            do throws(Failure) { result = .success(try await work()) } catch { result = .failure(error) }
            box.put(result)
        }
        return try box.take().get()
    }

    /// One result handed from the task to the waiting thread.
    private final class ResultBox<T: Sendable, Failure: Error>: Sendable {
        private let result = Mutex<Result<T, Failure>?>(nil)
        private let ready = DispatchSemaphore(value: 0)

        func put(_ value: Result<T, Failure>) {
            result.withLock { $0 = value }
            ready.signal()
        }

        func take() -> Result<T, Failure> {
            ready.wait()
            return result.withLock { $0! }
        }
    }
}
