import DequeModule
import StateCoordinator

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

    private struct Contents: Sendable {
        var versions: Deque<EncodedVersion> = []
        var bytes = 0
        var keepAliveDue = false
    }

    let capacity: Int
    let byteBudget: Int
    private let contents: Mailbox<Contents>

    /// - Parameter parked: called each time ``next()`` parks, waiting (for tests: to offer only
    ///   once it waits).
    init(
        capacity: Int = StreamMailbox.defaultCapacity, byteBudget: Int = StreamMailbox.defaultByteBudget,
        parked: (@Sendable () -> Void)? = nil
    ) {
        self.capacity = max(1, capacity)
        self.byteBudget = max(0, byteBudget)
        contents = Mailbox(Contents(), parked: parked)
    }

    /// Adds a version; past the capacity or the byte budget the oldest go, never the newest.
    /// Returns how many were dropped.
    @discardableResult
    func offer(_ version: EncodedVersion) -> Int {
        contents.post { contents in
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
            return dropped
        } ?? 0
    }

    /// Asks for a keep-alive comment at the stream's next write.
    func keepAlive() {
        contents.post { $0.keepAliveDue = true }
    }

    /// Ends the stream: ``next()`` returns nil once what is pending has been taken. Idempotent.
    func close() {
        contents.close()
    }

    /// Waits for a version or a keep-alive; nil once closed (or the task is cancelled) and empty.
    func next() async -> Delivery? {
        let delivery = await contents.take { contents, _ -> Delivery? in
            guard !contents.versions.isEmpty || contents.keepAliveDue else { return nil }
            let version = contents.versions.popFirst()
            if let version { contents.bytes -= version.event.readableBytes }
            defer { contents.keepAliveDue = false }
            return Delivery(version: version, keepAlive: contents.keepAliveDue)
        }
        if delivery == nil { close() }  // cancelled: the stream ends
        return delivery
    }
}
