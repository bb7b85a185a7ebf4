import Hummingbird
import ServiceLifecycle
import StateCoordinator
import Synchronization

/// One store's versions for every `/events` stream: a single watch reads, verifies and encodes
/// each version once, and offers it to each open stream's ``StreamMailbox``. With a hundred
/// streams open a commit still costs one read and one encoding.
///
/// A service of the sidecar's group: a graceful shutdown ends the watch and every stream.
final class EventFeed: Service, Sendable {
    /// How often an idle stream gets a keep-alive comment.
    static let keepAliveInterval: Duration = .seconds(15)

    private struct Subscribers {
        var mailboxes: [ObjectIdentifier: StreamMailbox] = [:]
        var newest: EncodedVersion?
        var closed = false
    }

    let store: ReadOnlyStateStore<JSONValue>
    let capacity: Int
    private let subscribers = Mutex(Subscribers())
    /// Versions skipped by streams that fell behind, over all streams so far.
    let droppedForSlowStreams = Atomic(0)

    init(store: ReadOnlyStateStore<JSONValue>, capacity: Int = StreamMailbox.defaultCapacity) {
        self.store = store
        self.capacity = capacity
    }

    /// The number of streams following the feed.
    var streamCount: Int { subscribers.withLock { $0.mailboxes.count } }

    /// A new stream's mailbox, and the newest version at that moment (nil before the first one
    /// arrived): every version after it will be offered to the mailbox.
    func subscribe() -> (StreamMailbox, newest: EncodedVersion?) {
        let mailbox = StreamMailbox(capacity: capacity)
        let newest = subscribers.withLock { subscribers -> EncodedVersion? in
            if subscribers.closed {
                mailbox.close()
            } else {
                subscribers.mailboxes[ObjectIdentifier(mailbox)] = mailbox
            }
            return subscribers.newest
        }
        return (mailbox, newest)
    }

    func unsubscribe(_ mailbox: StreamMailbox) {
        mailbox.close()
        _ = subscribers.withLock { $0.mailboxes.removeValue(forKey: ObjectIdentifier(mailbox)) }
    }

    /// Follows the store until the task is cancelled or the sidecar shuts down gracefully.
    func run() async throws {
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.keepAliveInterval)
                for mailbox in self?.openMailboxes() ?? [] { mailbox.keepAlive() }
            }
        }
        defer {
            ticker.cancel()
            closeAll()
        }
        await cancelWhenGracefulShutdown {
            var first = true
            for await event in StateObservation(.every).events(in: self.store) {
                // Gaps and resets need no event here: each stream finds them in the versions.
                guard case .snapshot(let snapshot) = event else { continue }
                self.publish(EncodedVersion(snapshot, arrived: !first))
                first = false
            }
        }
    }

    /// Offers a version to every stream.
    func publish(_ version: EncodedVersion) {
        let mailboxes = subscribers.withLock { subscribers -> [StreamMailbox] in
            subscribers.newest = version
            return Array(subscribers.mailboxes.values)
        }
        var dropped = 0
        for mailbox in mailboxes { dropped += mailbox.offer(version) }
        if dropped > 0 { droppedForSlowStreams.add(dropped, ordering: .relaxed) }
    }

    private func openMailboxes() -> [StreamMailbox] {
        subscribers.withLock { Array($0.mailboxes.values) }
    }

    private func closeAll() {
        let mailboxes = subscribers.withLock { subscribers -> [StreamMailbox] in
            subscribers.closed = true
            defer { subscribers.mailboxes = [:] }
            return Array(subscribers.mailboxes.values)
        }
        for mailbox in mailboxes { mailbox.close() }
    }
}
