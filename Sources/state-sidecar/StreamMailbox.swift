import Synchronization

/// What one event stream has not written yet: a bounded run of encoded versions, newest last.
///
/// The feed offers each version to every stream's mailbox; the stream takes the whole run when
/// it is ready to write. A stream that falls `capacity` versions behind (a slow client, whose
/// socket is full) keeps only the newest version: the stream then reports the versions between
/// as a gap. Memory per stream is bounded by `capacity` shared, already encoded versions.
final class StreamMailbox: Sendable {
    /// How many versions a stream may fall behind before it skips to the newest.
    static let defaultCapacity = 64

    /// What ``next()`` hands the stream.
    struct Delivery: Sendable {
        /// Versions to write, oldest first.
        var versions: [EncodedVersion]
        /// A keep-alive comment is due.
        var keepAlive: Bool
    }

    private struct Contents {
        var versions: [EncodedVersion] = []
        var keepAliveDue = false
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Versions dropped because the stream fell behind, for the metric.
        var dropped = 0
    }

    let capacity: Int
    private let contents = Mutex(Contents())

    init(capacity: Int = StreamMailbox.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Versions this mailbox dropped so far because its stream was too slow.
    var dropped: Int { contents.withLock { $0.dropped } }

    /// Adds a version; past the capacity only the newest is kept. Returns how many were dropped.
    @discardableResult
    func offer(_ version: EncodedVersion) -> Int {
        let (waiter, dropped) = contents.withLock { contents -> (CheckedContinuation<Void, Never>?, Int) in
            guard !contents.closed else { return (nil, 0) }
            contents.versions.append(version)
            var dropped = 0
            if contents.versions.count > capacity {
                dropped = contents.versions.count - 1
                contents.versions.removeFirst(dropped)
                contents.dropped += dropped
            }
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

    /// Waits for versions or a keep-alive; nil once closed (or the task is cancelled) and empty.
    func next() async -> Delivery? {
        while true {
            let taken = contents.withLock { contents -> Delivery?? in
                if !contents.versions.isEmpty || contents.keepAliveDue {
                    let delivery = Delivery(versions: contents.versions, keepAlive: contents.keepAliveDue)
                    contents.versions = []
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
                    if ready { continuation.resume() }
                }
            } onCancel: {
                close()
            }
        }
    }
}
