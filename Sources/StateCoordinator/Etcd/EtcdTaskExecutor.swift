import DequeModule
import Foundation

/// The thread the package's etcd tasks run on (gRPC calls, watches, their connections), never
/// Swift's cooperative pool.
///
/// The store's synchronous methods block their caller until a gRPC call ends (``AsyncBridge``).
/// A caller on the cooperative pool (a synchronous function called from a task) would hold one of
/// its threads, two on a 2-core machine, while the call needed another: two such callers and
/// nothing moves. With this executor the calls never need the pool. The work on it is short and
/// never blocks: encoding, decoding and handing bytes to NIO's event loops.
final class EtcdTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is only touched under `condition`.
    static let shared = EtcdTaskExecutor(name: "StateCoordinator.etcd")

    private let condition = NSCondition()
    private var jobs: Deque<UnownedJob> = []

    private init(name: String) {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: executor)
        }
    }
}
