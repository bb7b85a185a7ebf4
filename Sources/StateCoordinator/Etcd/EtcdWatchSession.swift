import Foundation
import GRPCCore
import Synchronization

/// One watch of one key on one member: the stream opened from a revision, every response handed
/// to `onResponse` as it arrives, and a progress request sent every third of the idle timeout.
/// The session ends when `onResponse` says so, when the stream fails, or when nothing at all
/// (no event, no progress reply) arrived within the idle timeout: a member cut off from the
/// others can keep a watch open and silent (etcd issue 8980), so silence is a failure here.
enum EtcdWatchSession {
    /// What the handler wants after a response.
    enum Next: Sendable { case more, finish }

    /// Thrown when the watch stayed silent past the idle timeout.
    struct Silent: Error {}

    /// Watches `key` (or the keys in `[key, rangeEnd)`) from `startRevision` on the call's member
    /// until `onResponse` says `.finish`.
    static func run(
        _ call: EtcdCall, key: [UInt8], rangeEnd: [UInt8]? = nil, startRevision: Int64,
        idleTimeout: Duration, onResponse: @escaping @Sendable (Etcdserverpb_WatchResponse) async throws -> Next
    ) async throws {
        let heard = LastHeard()
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(key)
        if let rangeEnd { create.rangeEnd = Data(rangeEnd) }
        create.startRevision = startRevision
        create.progressNotify = true
        var createRequest = Etcdserverpb_WatchRequest()
        createRequest.createRequest = create
        var progressRequest = Etcdserverpb_WatchRequest()
        progressRequest.progressRequest = Etcdserverpb_WatchProgressRequest()
        let first = createRequest
        let progress = progressRequest
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Etcdserverpb_Watch.Client(wrapping: call.client).watch(
                    metadata: call.metadata, options: call.options,
                    requestProducer: { writer in
                        try await writer.write(first)
                        // Keep the request stream open (closing it ends the watch), asking for progress now and then.
                        while true {
                            try await Task.sleep(for: idleTimeout / 3)
                            try await writer.write(progress)
                        }
                    },
                    onResponse: { response in
                        for try await message in response.messages {
                            heard.now()
                            let next = try await onResponse(message)
                            // A delivery that took long (a fill from history) is not silence.
                            heard.now()
                            if next == .finish { return }
                        }
                    })
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: idleTimeout / 4)
                    let silentFor = ContinuousClock.now - heard.instant
                    if silentFor > idleTimeout { throw Silent() }
                }
            }
            // The first child to finish decides: the watch ended (or failed), or the watchdog fired.
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// When the stream last said anything.
    private final class LastHeard: Sendable {
        private let last = Mutex(ContinuousClock.now)
        func now() { last.withLock { $0 = .now } }
        var instant: ContinuousClock.Instant { last.withLock { $0 } }
    }
}
