import Foundation
import Synchronization
import Testing

@testable import StateCoordinator

/// The one wait/wake primitive (``Mailbox``) behind a watch's queue, a reader's snapshot and the
/// sidecar's streams: no wake-up is lost, closing drains then ends, cancelling ends one wait.
@Suite("Mailbox", .timeLimit(.minutes(2)))  // a hang fails by name, not the whole run
struct MailboxTests {
    @Test func aPostWakesATaskParkedForIt() async {
        let parked = Mutex(0)
        let mailbox = Mailbox<[Int]>([], parked: { parked.withLock { $0 += 1 } })
        let taker = Task { await mailbox.take { items, _ in items.isEmpty ? nil : items.removeFirst() } }
        #expect(await eventually { parked.withLock { $0 } == 1 && mailbox.waiterCount == 1 })
        mailbox.post { $0.append(7) }
        #expect(await taker.value == 7)
        #expect(mailbox.waiterCount == 0)
    }

    @Test func closingHandsOverWhatIsLeftThenNil() async {
        let mailbox = Mailbox<[Int]>([1, 2])
        mailbox.close()
        #expect(mailbox.post { $0.append(3) } == nil, "nothing is posted once closed")
        var taken: [Int] = []
        while let item = await mailbox.take({ items, _ in items.isEmpty ? nil : items.removeFirst() }) { taken.append(item) }
        #expect(taken == [1, 2])
    }

    @Test func cancellingEndsOneWaitAndLeavesTheMailboxOpen() async {
        let mailbox = Mailbox<[Int]>([])
        let taker = Task { await mailbox.take { items, _ in items.isEmpty ? nil : items.removeFirst() } }
        #expect(await eventually { mailbox.waiterCount == 1 })
        taker.cancel()
        #expect(await taker.value == nil)
        #expect(mailbox.waiterCount == 0 && !mailbox.isClosed)
        mailbox.post { $0.append(1) }
        #expect(await mailbox.take { items, _ in items.isEmpty ? nil : items.removeFirst() } == 1)
    }

    @Test func noPostIsLostBetweenLookingAndParking() async {
        // Producers on other threads race with a consumer that parks after each item.
        let mailbox = Mailbox<[Int]>([])
        let count = 20_000
        let producers = (0..<4).map { producer in
            Thread.detachNewThreadWithResult {
                for item in stride(from: producer, to: count, by: 4) { mailbox.post { $0.append(item) } }
            }
        }
        var seen = 0
        var sum = 0
        while seen < count, let item = await mailbox.take({ items, _ in items.isEmpty ? nil : items.removeFirst() }) {
            seen += 1
            sum += item
        }
        for producer in producers { producer.wait() }
        #expect(seen == count && sum == (0..<count).reduce(0, +))
    }
}

extension Thread {
    /// Runs `body` on a thread of its own; ``Waitable/wait()`` returns once it ended.
    fileprivate static func detachNewThreadWithResult(_ body: @escaping @Sendable () -> Void) -> Waitable {
        let done = Waitable()
        Thread.detachNewThread {
            body()
            done.signal()
        }
        return done
    }
}

private final class Waitable: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait() { semaphore.wait() }
}
