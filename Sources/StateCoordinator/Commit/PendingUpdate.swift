import SystemPackage
import Synchronization

/// One caller's update waiting in the group-commit queue. It is answered exactly once: with
/// the snapshot of the commit that included its mutation (or of the current version, when the
/// mutations changed nothing), or with an error.
///
/// Cancelled before its mutation first ran, it is answered with `CancellationError` at once and
/// skipped by its batch; once its mutation ran, its batch completes it.
final class PendingUpdate<State: Sendable>: Sendable {
    typealias Delivery = @Sendable (StateSnapshot<State>) -> Void

    /// For compare-and-swap: the version the caller expects the store to be at.
    let expectedVersion: UInt64?
    /// Commit a new version even if the mutation changes nothing.
    let commitsUnchanged: Bool
    /// A change of the store's settings committed with the mutation (setting a schema); runs
    /// under the writer lock with the store directory's descriptor (to write the schema file),
    /// or, on etcd, before the transaction that commits it.
    let settingsChange: SettingsChange?
    /// For a mirror (``StateMirror``): commit as exactly this version, which must be above the
    /// base's, instead of the base's + 1, so that a local store keeps its source's numbering.
    let mirroredVersion: UInt64?
    /// The mutation as data, when it is one (`StateStore.apply(_:expecting:)`): then, while the
    /// lock is held by another process, it is published for that holder to commit.
    let declarative: StateMutation?
    /// For a mutation another process published, which this process commits as the lock holder:
    /// its request ID, listed in the header of the version that includes it.
    let queueID: String?
    /// Answers a ``declarative`` update that another process committed, with that version.
    private let remote: (@Sendable (StateSnapshot<JSONValue>) -> Void)?
    /// The ID under which this update was published, while it is.
    private let publishedID = Mutex<String?>(nil)
    typealias SettingsChange = @Sendable (inout StoreSettings, SettingsChangeTarget) throws(StateStoreError) -> Void
    private let mutation: @Sendable (inout State) throws -> Delivery
    private let failure: @Sendable (any Error) -> Void
    private let staged = Mutex<Delivery?>(nil)
    private let answered = Mutex(false)
    /// Set when the mutation first runs: from then on cancellation no longer applies.
    private let applying = Mutex(false)

    /// - Parameters:
    ///   - mutation: applies the caller's change and returns how to deliver the result.
    ///   - failure: answers the caller with an error.
    init(
        expectedVersion: UInt64?, commitsUnchanged: Bool = false, settingsChange: SettingsChange? = nil,
        mirroredVersion: UInt64? = nil, declarative: StateMutation? = nil, queueID: String? = nil,
        remote: (@Sendable (StateSnapshot<JSONValue>) -> Void)? = nil,
        mutation: @escaping @Sendable (inout State) throws -> Delivery, failure: @escaping @Sendable (any Error) -> Void
    ) {
        self.expectedVersion = expectedVersion
        self.commitsUnchanged = commitsUnchanged
        self.settingsChange = settingsChange
        self.mirroredVersion = mirroredVersion
        self.declarative = declarative
        self.queueID = queueID
        self.remote = remote
        self.mutation = mutation
        self.failure = failure
    }

    /// Whether it can be published for another process to commit.
    var isPublishable: Bool { declarative != nil && remote != nil && !commitsUnchanged && settingsChange == nil && mirroredVersion == nil }

    /// The ID it was published under, while it is (set by the waiting writer, cleared once it
    /// withdrew it or read its answer).
    var published: String? {
        get { publishedID.withLock { $0 } }
        set { publishedID.withLock { $0 = newValue } }
    }

    /// Marks it as being applied (cancellation no longer answers it): a published update is in
    /// another process's hands. False when it was answered already (cancelled).
    func beginPublishing() -> Bool { beginApplying() }

    /// Answers with the version another process committed it in (see ``remote``), unless
    /// already answered.
    func succeedRemotely(with snapshot: StateSnapshot<JSONValue>) {
        guard markAnswered() else { return }
        remote?(snapshot)
    }

    /// Applies the mutation to `state`; a later ``succeed(with:)`` delivers its result. A mutation
    /// may be applied again (to a different base) if its batch has to be split.
    func apply(to state: inout State) throws {
        let delivery = try mutation(&state)
        staged.withLock { $0 = delivery }
    }

    /// Called by the batch before it applies the mutation: false when the update was answered
    /// already (cancelled), true otherwise, also when it is applied again after a split.
    func beginApplying() -> Bool {
        answered.withLock { answered in
            guard !answered else { return false }
            applying.withLock { $0 = true }
            return true
        }
    }

    /// Answers with `CancellationError` if the mutation has not run yet; otherwise does nothing
    /// (the batch that applied it completes it).
    func cancel() {
        let cancelled = answered.withLock { answered in
            guard !answered, !applying.withLock({ $0 }) else { return false }
            answered = true
            return true
        }
        if cancelled { failure(CancellationError()) }
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
