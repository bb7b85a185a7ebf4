/// What a ``StateReader`` shares with the sink of its follower: the newest snapshot and the last
/// problem, in a ``Mailbox`` its waiting tasks wait on. A waiting task evaluates its condition
/// itself: the storing thread (the watch loop's, often) never runs a user's closure.
@usableFromInline
final class ReaderShared<State: Codable & Sendable>: Sendable {
    @usableFromInline
    struct Contents: Sendable {
        @usableFromInline var snapshot: StateSnapshot<State>
        var problem: StateStoreError?
        /// Counts the snapshots stored: a waiter wakes for a newer one than it looked at.
        var generation: UInt64 = 0
    }

    @usableFromInline let mailbox: Mailbox<Contents>

    init(_ initial: StateSnapshot<State>) { mailbox = Mailbox(Contents(snapshot: initial)) }

    /// Stores a new snapshot and wakes every waiter, to look at it in its own task. The previous
    /// snapshot is freed after the lock is released, not while a tick loop may be waiting for it.
    func store(_ snapshot: StateSnapshot<State>) {
        let previous = mailbox.post { contents in
            defer {
                contents.snapshot = snapshot
                contents.problem = nil
                contents.generation &+= 1
            }
            return contents.snapshot
        }
        _ = consume previous
    }

    func report(_ problem: StateStoreError) {
        mailbox.withContents { $0.problem = problem }
    }

    /// The current snapshot's file verifies again (a damaged file replaced by a good copy of the
    /// same version): the problem no longer stands.
    func clearProblem() {
        mailbox.withContents { $0.problem = nil }
    }

    /// Wakes every waiting task with ``closedError``; the snapshot stays readable.
    func close() { mailbox.close() }

    func wait(until condition: @escaping @Sendable (borrowing StateSnapshot<State>) -> Bool) async throws -> StateSnapshot<State> {
        while true {
            let (snapshot, generation) = mailbox.withContents { ($0.snapshot, $0.generation) }
            if condition(snapshot) { return snapshot }
            // Returns at once when a newer snapshot came meanwhile; nil when closed or cancelled.
            let newer = await mailbox.take { contents, _ in contents.generation != generation ? true : nil }
            if newer == nil {
                try Task.checkCancellation()
                throw Self.closedError
            }
        }
    }

    static var closedError: StateStoreError {
        StateStoreError(.closed, "The reader was closed while a task waited on it.", hint: "Keep the reader open while you wait on it.")
    }
}
