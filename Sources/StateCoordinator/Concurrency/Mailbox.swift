import Synchronization

/// Contents shared between producers on any thread and consumer tasks that wait for them: the one
/// primitive behind a watch's event queue, a reader's newest snapshot and the sidecar's stream
/// queues.
///
/// Producers change the contents under the lock with ``post(_:)``, which wakes every waiting task;
/// a consumer calls ``take(_:)`` with a closure that takes what it wants from the contents (or
/// nil: nothing yet), and waits until it gets something, the mailbox is closed, or its task is
/// cancelled. What is kept, dropped or collapsed (a byte budget, a gap for versions dropped, only
/// the newest snapshot) is the contents' own business, decided inside the closures. No closure
/// runs a user's code: both run under the mailbox's lock.
@usableFromInline
package final class Mailbox<Contents: Sendable>: Sendable {
    @usableFromInline
    struct Box: Sendable {
        @usableFromInline var contents: Contents
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Counts posts: a task parks only if none came since it looked.
        var generation: UInt64 = 0
        var closed = false
    }

    @usableFromInline let box: Mutex<Box>
    /// Called each time a task parks (for tests: to post only once it waits).
    private let parked: (@Sendable () -> Void)?

    package init(_ contents: Contents, parked: (@Sendable () -> Void)? = nil) {
        box = Mutex(Box(contents: contents))
        self.parked = parked
    }

    /// Changes the contents and wakes every waiting task (to look at them in its own task).
    /// Nothing is changed once the mailbox is closed: `body` is not called and nil is returned.
    @discardableResult
    package func post<R>(_ body: (inout Contents) -> R) -> R? {
        let (result, woken) = box.withLock { box -> (R?, [CheckedContinuation<Void, Never>]) in
            guard !box.closed else { return (nil, []) }
            let result = body(&box.contents)
            box.generation &+= 1
            defer { box.waiters.removeAll() }
            return (result, Array(box.waiters.values))
        }
        for waiter in woken { waiter.resume() }
        return result
    }

    /// Reads or changes the contents without waking anyone (closed or not).
    @inlinable
    package func withContents<R, E: Error>(_ body: (inout Contents) throws(E) -> R) throws(E) -> R {
        try box.withLock { box throws(E) in try body(&box.contents) }
    }

    /// How many tasks wait in ``take(_:)`` (for tests).
    package var waiterCount: Int { box.withLock { $0.waiters.count } }

    /// Waits until `body` takes something from the contents. `body` is called under the lock
    /// with the contents and whether the mailbox is closed, at once and after each ``post(_:)``.
    ///
    /// - Returns: what `body` took; nil when the task is cancelled first, or the mailbox closed
    ///   and `body` took nothing.
    package func take<R: Sendable>(_ body: (inout Contents, _ closed: Bool) -> R?) async -> R? {
        while true {
            let looked: (id: UInt64, generation: UInt64)
            switch box.withLock({ box -> Taking<R> in
                if let taken = body(&box.contents, box.closed) { return .taken(taken) }
                if box.closed { return .closed }
                defer { box.nextWaiter += 1 }
                return .wait(id: box.nextWaiter, generation: box.generation)
            }) {
            case .taken(let taken): return taken
            case .closed: return nil
            case .wait(let id, let generation): looked = (id, generation)
            }
            if Task.isCancelled { return nil }
            await park(looked.id, unlessPostedSince: looked.generation)
            if Task.isCancelled { return nil }
        }
    }

    private enum Taking<R> {
        case taken(R)
        case closed
        case wait(id: UInt64, generation: UInt64)
    }

    /// Sleeps until the next ``post(_:)``, ``close()`` or the task's cancellation; at once if one
    /// came since the caller looked.
    private func park(_ id: UInt64, unlessPostedSince generation: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parks = box.withLock { box -> Bool in
                    guard !box.closed, box.generation == generation, !Task.isCancelled else { return false }
                    box.waiters[id] = continuation
                    return true
                }
                if parks { parked?() } else { continuation.resume() }
            }
        } onCancel: {
            box.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Closes the mailbox: every waiting task wakes, and ``take(_:)`` returns what is left for it
    /// and then nil. Idempotent.
    package func close() {
        let woken = box.withLock { box -> [CheckedContinuation<Void, Never>] in
            box.closed = true
            box.generation &+= 1
            defer { box.waiters.removeAll() }
            return Array(box.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Whether ``close()`` was called.
    package var isClosed: Bool { box.withLock { $0.closed } }
}
