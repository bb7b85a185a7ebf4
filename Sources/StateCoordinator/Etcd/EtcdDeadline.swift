import GRPCCore
import NIOCore
import Synchronization

/// A request's deadline, kept by a timer on the etcd event loop rather than by gRPC's.
///
/// grpc-swift races each call with a `Task.sleep`, whose timer lives on the global executor's
/// thread: every request then woke that thread twice, on a 2-core machine. This timer is one
/// entry in the event loop the call already runs on; it cancels the call's task when it fires,
/// and the call's cancellation is reported as gRPC's `deadlineExceeded` (a member failure: the
/// next member is tried).
enum EtcdDeadline {
    static func run<R: Sendable>(
        within limit: Duration?, _ work: @escaping @Sendable () async throws -> R
    ) async throws -> R {
        guard let limit else { return try await work() }
        let task = Task(executorPreference: EtcdTaskExecutor.shared) { try await work() }
        let fired = Atomic(false)
        let timer = EtcdTaskExecutor.shared.loop.scheduleTask(in: .nanoseconds(Int64(clamping: limit.saturatingNanoseconds))) {
            fired.store(true, ordering: .relaxed)
            task.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch where fired.load(ordering: .relaxed) {
            throw RPCError(code: .deadlineExceeded, message: "no answer within \(limit)")
        }
    }
}
