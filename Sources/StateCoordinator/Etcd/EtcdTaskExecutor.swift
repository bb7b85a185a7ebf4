import NIOCore
import NIOPosix

/// The thread the package's etcd tasks run on (gRPC calls, watches, their connections), never
/// Swift's cooperative pool: the one thread of an event loop that also carries the connections'
/// I/O, so that a call's task and its socket meet on one thread, with no hand-over between them.
///
/// The store's synchronous methods block their caller until a gRPC call ends (``AsyncBridge``).
/// A caller on the cooperative pool (a synchronous function called from a task) would hold one of
/// its threads, two on a 2-core machine, while the call needed another: two such callers and
/// nothing moves. With this executor the calls never need the pool. The work on it is short and
/// never blocks: encoding, decoding and handing bytes to the sockets.
///
/// Measured on the project's 2-core guest (state-bench --only etcd, P = 1): with a thread of its
/// own beside NIO's event loops, each RPC crossed threads four times and a commit cost 1.8× the
/// raw client's; on the event loop's thread, see the benchmark's README.
final class EtcdTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: immutable after init; the loop serializes the jobs.
    static let shared = EtcdTaskExecutor()

    /// The group of one event loop that runs the connections (given to the gRPC transport).
    let group: MultiThreadedEventLoopGroup
    /// That loop (deadlines are timers on it: ``EtcdDeadline``).
    let loop: any EventLoop

    private init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        loop.execute { [self] in unowned.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}
