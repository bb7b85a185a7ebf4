import Synchronization

/// One caller's update waiting in the group-commit queue. It is answered exactly once: with
/// the snapshot of the commit that included its mutation, or with an error.
final class PendingUpdate<State: Sendable>: Sendable {
    typealias Delivery = @Sendable (StateSnapshot<State>) -> Void

    /// For compare-and-swap: the version the caller expects the store to be at.
    let expectedVersion: UInt64?
    private let mutation: @Sendable (inout State) throws -> Delivery
    private let failure: @Sendable (any Error) -> Void
    private let staged = Mutex<Delivery?>(nil)
    private let answered = Mutex(false)

    /// - Parameters:
    ///   - mutation: applies the caller's change and returns how to deliver the result.
    ///   - failure: answers the caller with an error.
    init(
        expectedVersion: UInt64?, mutation: @escaping @Sendable (inout State) throws -> Delivery,
        failure: @escaping @Sendable (any Error) -> Void
    ) {
        self.expectedVersion = expectedVersion
        self.mutation = mutation
        self.failure = failure
    }

    /// Applies the mutation to `state`; a later ``succeed(with:)`` delivers its result. A mutation
    /// may be applied again (to a different base) if its batch has to be split.
    func apply(to state: inout State) throws {
        let delivery = try mutation(&state)
        staged.withLock { $0 = delivery }
    }

    /// Answers with the committed snapshot, unless already answered.
    func succeed(with snapshot: StateSnapshot<State>) {
        guard markAnswered(), let delivery = staged.withLock({ $0 }) else { return }
        delivery(snapshot)
    }

    /// Answers with an error, unless already answered.
    func fail(_ error: any Error) {
        guard markAnswered() else { return }
        failure(error)
    }

    /// Whether the caller was answered already.
    var isAnswered: Bool { answered.withLock { $0 } }

    private func markAnswered() -> Bool {
        answered.withLock { wasAnswered in
            defer { wasAnswered = true }
            return !wasAnswered
        }
    }
}
