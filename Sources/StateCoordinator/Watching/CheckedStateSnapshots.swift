/// ``StateSnapshots`` that throw instead of passing over a version they cannot use: the
/// fail-safe choice for a consumer that must not act on an older version without knowing it.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false }
/// let store = try await ReadOnlyStateStore<Risk>(directory: "/srv/bot")
/// do {
///     for try await snapshot in StateObservation(unusableVersions: .fail).values(in: store) { print("halt:", snapshot.state.halt) }
/// } catch {
///     print("cannot use version \(error.version.map(String.init) ?? "?"): \(error.message); halting")
/// }
/// ```
///
/// The iterator throws the ``StateStoreError`` of the first version it cannot use (a state that
/// does not decode as `State`, a file that fails verification or is too large), then ends.
/// Transient failures (EMFILE, EIO) are retried, not thrown.
public struct CheckedStateSnapshots<State: Codable & Sendable>: AsyncSequence, Sendable {
    /// One version.
    public typealias Element = StateSnapshot<State>
    /// What ends the sequence early.
    public typealias Failure = StateStoreError

    /// The full watch this sequence reads from, for its mode and statistics.
    public let watch: StateWatch<State>

    /// Makes an iterator, which starts a watch of its own.
    public func makeAsyncIterator() -> Iterator { Iterator(base: watch.makeAsyncIterator()) }

    /// The iterator of ``CheckedStateSnapshots``: ``StateValues``' with ``StateObservation/UnusableVersions/fail``.
    public struct Iterator: AsyncIteratorProtocol {
        var values: StateValues<State>.Iterator

        init(base: StateWatch<State>.Iterator) { values = StateValues.Iterator(base: base, unusableVersions: .fail) }

        /// The next version; throws at a version that cannot be used; nil once the consuming
        /// task is cancelled or after the error.
        public mutating func next() async throws(StateStoreError) -> StateSnapshot<State>? {
            try await values.next()
        }
    }
}

extension ReadableStateStore {
    /// The store's versions as ``snapshots(_:label:acknowledgement:options:)`` delivers them,
    /// except that a version that cannot be used ends the sequence with its error instead of
    /// being passed over (see ``CheckedStateSnapshots``).
    @available(*, deprecated, message: "Use StateObservation(delivery, unusableVersions: .fail, label:, acknowledgement:, options:).values(in: store)")
    public func checkedSnapshots(
        _ delivery: WatchDelivery = .latest, label: String? = nil, acknowledgement: WatchAcknowledgement = .manual,
        options: WatchOptions = WatchOptions()
    ) -> CheckedStateSnapshots<State> {
        CheckedStateSnapshots(watch: makeWatch(delivery, label: label, acknowledgement: acknowledgement, options: options))
    }
}
