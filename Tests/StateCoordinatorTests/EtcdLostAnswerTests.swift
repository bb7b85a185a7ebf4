import Foundation
import Synchronization
import Testing

@testable import StateCoordinator

/// A transaction whose answer is lost is never applied twice: played with the transaction seam
/// against a real etcd (the answer dropped after the transaction applied; a transaction held back
/// and applied only after the writer planned again, as a proposal that outlived its client).
@Suite("A commit on etcd whose answer was lost", .serialized, .timeLimit(.minutes(2)))
struct EtcdLostAnswerTests {
    /// Commits one increment through `access` and returns what its caller was told.
    static func increment(_ access: EtcdStoreAccess) -> Result<StateSnapshot<JSONValue>, any Error> {
        let answer = Mutex<Result<StateSnapshot<JSONValue>, any Error>?>(nil)
        let update = PendingUpdate<JSONValue>(
            expectedVersion: nil,
            mutation: { state in
                try state.set(.int((state["counter"]?.intValue ?? 0) + 1), forKey: "counter")
                return { snapshot in answer.withLock { $0 = .success(snapshot) } }
            },
            failure: { error in answer.withLock { $0 = .failure(error) } })
        EtcdBatchCommit<JSONValue>(access: access, options: StateStoreOptions(), lastWrite: EtcdLastWrite()).run([update])
        return answer.withLock { $0! }
    }

    @Test func anAnswerLostAfterTheTransactionAppliedIsAnsweredAsCommittedOnce() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        _ = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0])
        var access = try EtcdStoreAccess(etcd, name: "state")
        let calls = Mutex(0)
        access.transactionSeam = { (request, send) throws(EtcdFailure) in
            let result = try send(request)
            if calls.withLock({ $0 += 1; return $0 }) == 1 { throw .unavailable(tried: [(endpoint: "test", reason: "answer lost")]) }
            return result
        }
        let answer = try Self.increment(access).get()
        #expect(answer.version == 1 && answer.state["counter"]?.intValue == 1)
        #expect(calls.withLock { $0 } == 1, "the applied transaction was sent again")
        let final = try ReadOnlyStateStore<JSONValue>(etcd: etcd).read()
        #expect(final.version == 1 && final.state["counter"]?.intValue == 1)
    }

    @Test func aTransactionThatLandsAfterTheWriterPlannedAgainIsNotAppliedTwice() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        _ = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0])
        var access = try EtcdStoreAccess(etcd, name: "state")
        let heldBack = Mutex<Etcdserverpb_TxnRequest?>(nil)
        let calls = Mutex(0)
        access.transactionSeam = { (request, send) throws(EtcdFailure) in
            switch calls.withLock({ $0 += 1; return $0 }) {
            case 1:
                // Not sent yet: its answer is "lost", and the key is unchanged when the writer looks.
                heldBack.withLock { $0 = request }
                throw .unavailable(tried: [(endpoint: "test", reason: "answer lost")])
            case 2:
                // The first one lands now, before the second: whose comparison then fails.
                _ = try send(heldBack.withLock { $0! })
                return try send(request)
            default:
                return try send(request)
            }
        }
        let answer = try Self.increment(access).get()
        #expect(answer.version == 1 && answer.state["counter"]?.intValue == 1, "\(answer.version)")
        #expect(calls.withLock { $0 } == 2)
        let final = try ReadOnlyStateStore<JSONValue>(etcd: etcd).read()
        #expect(final.version == 1 && final.state["counter"]?.intValue == 1, "applied twice: version \(final.version)")
    }

    @Test func anotherWritersVersionFirstMeansOursNeverApplies() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0])
        var access = try EtcdStoreAccess(etcd, name: "state")
        let calls = Mutex(0)
        access.transactionSeam = { (request, send) throws(EtcdFailure) in
            if calls.withLock({ $0 += 1; return $0 }) == 1 {
                // Another writer commits first; ours is lost on the way (never sent).
                _ = try? store.update { try $0.set(.int(100), forKey: "counter") }
                throw .unavailable(tried: [(endpoint: "test", reason: "answer lost")])
            }
            return try send(request)
        }
        let answer = try Self.increment(access).get()
        #expect(answer.version == 2 && answer.state["counter"]?.intValue == 101)
        #expect(try store.read().state["counter"]?.intValue == 101)
    }
}
