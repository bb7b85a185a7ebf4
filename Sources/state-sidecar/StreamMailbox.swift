import DequeModule
import Synchronization

/// What one event stream has not written yet: a bounded run of encoded versions, newest last.
///
/// The feed offers each version to every stream's mailbox; the stream takes them one at a time
/// as it writes. A stream that falls behind (a slow client, whose socket is full, so that the
/// stream's writes wait) keeps at most `capacity` versions and `byteBudget` bytes of them, the
/// newest always: the stream then reports the versions it skipped as a gap. So a stream holds at
/// most the budget (or the newest version, if larger) plus the one version it is writing.
///
/// One consumer: ``next()`` is called by the stream's own task only.
final class StreamMailbox: Sendable {
    /// How many versions a stream may fall behind before it skips ahead.
    static let defaultCapacity = 64
    /// How many bytes of waiting versions a stream may hold before it skips ahead.
    static let defaultByteBudget = 1 << 20

    /// What ``next()`` hands the stream.
    struct Delivery: Sendable {
        /// The oldest version not written yet, if any.
        var version: EncodedVersion?
        /// A keep-alive comment is due.
        var keepAlive: Bool
    }

    private struct Contents {
        var versions: Deque<EncodedVersion> = []
        var bytes = 0
        var keepAliveDue = false
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    let capacity: Int
    let byteBudget: Int
    private let contents = Mutex(Contents())
    /// Called each time ``next()`` parks, waiting (for tests: to offer only once it waits).
    private let parked: (@Sendable () -> Void)?

    init(
        capacity: Int = StreamMailbox.defaultCapacity, byteBudget: Int = StreamMailbox.defaultByteBudget,
        parked: (@Sendable () -> Void)? = nil
    ) {
        self.capacity = max(1, capacity)
        self.byteBudget = max(0, byteBudget)
        self.parked = parked
    }

    /// Adds a version; past the capacity or the byte budget the oldest go, never the newest.
    /// Returns how many were dropped.
    @discardableResult
    func offer(_ version: EncodedVersion) -> Int {
        let (waiter, dropped) = contents.withLock { contents -> (CheckedContinuation<Void, Never>?, Int) in
            guard !contents.closed else { return (nil, 0) }
            contents.versions.append(version)
            contents.bytes += version.event.readableBytes
            var dropped = 0
            while contents.versions.count - dropped > 1,
                contents.versions.count - dropped > capacity || contents.bytes > byteBudget
            {
                contents.bytes -= contents.versions[dropped].event.readableBytes
                dropped += 1
            }
            if dropped > 0 { contents.versions.removeFirst(dropped) }
            defer { contents.waiter = nil }
            return (contents.waiter, dropped)
        }
        waiter?.resume()
        return dropped
    }

    /// Asks for a keep-alive comment at the stream's next write.
    func keepAlive() {
        let waiter = contents.withLock { contents -> CheckedContinuation<Void, Never>? in
            guard !contents.closed else { return nil }
            contents.keepAliveDue = true
            defer { contents.waiter = nil }
            return contents.waiter
        }
        waiter?.resume()
    }

    /// Ends the stream: ``next()`` returns nil once what is pending has been taken. Idempotent.
    func close() {
        let waiter = contents.withLock { contents -> CheckedContinuation<Void, Never>? in
            contents.closed = true
            defer { contents.waiter = nil }
            return contents.waiter
        }
        waiter?.resume()
    }

    /// Waits for a version or a keep-alive; nil once closed (or the task is cancelled) and empty.
    func next() async -> Delivery? {
        while true {
            let taken = contents.withLock { contents -> Delivery?? in
                if !contents.versions.isEmpty || contents.keepAliveDue {
                    let version = contents.versions.isEmpty ? nil : contents.versions.removeFirst()
                    if let version { contents.bytes -= version.event.readableBytes }
                    let delivery = Delivery(version: version, keepAlive: contents.keepAliveDue)
                    contents.keepAliveDue = false
                    return .some(delivery)
                }
                return contents.closed ? .some(nil) : nil
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = contents.withLock { contents -> Bool in
                        if !contents.versions.isEmpty || contents.keepAliveDue || contents.closed { return true }
                        contents.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() } else { parked?() }
                }
            } onCancel: {
                close()
            }
        }
    }
}
