/// The versions of a store as a ``StateObservation`` delivers them (``StateObservation/values(in:)``).
///
/// With ``StateObservation/UnusableVersions/skip`` it never throws; with
/// ``StateObservation/UnusableVersions/fail`` it throws the ``StateStoreError`` of the first
/// version it cannot use, then ends.
public struct StateValues<State: Codable & Sendable>: AsyncSequence, Sendable {
    /// One version.
    public typealias Element = StateSnapshot<State>
    /// What ends the sequence early (only with ``StateObservation/UnusableVersions/fail``).
    public typealias Failure = StateStoreError

    /// The full watch this sequence reads from: its mode, statistics, registration and
    /// acknowledgements.
    public let watch: StateWatch<State>
    let unusableVersions: StateObservation.UnusableVersions

    /// Makes an iterator, which starts a watch of its own.
    public func makeAsyncIterator() -> Iterator { Iterator(base: watch.makeAsyncIterator(), unusableVersions: unusableVersions) }

    /// The iterator of ``StateValues``.
    public struct Iterator: AsyncIteratorProtocol {
        var base: StateWatch<State>.Iterator
        let unusableVersions: StateObservation.UnusableVersions
        var ended = false

        /// The errors about a version (as opposed to a transient failure of a read).
        static var unusable: Set<StateStoreError.Code> { [.badState, .corrupt, .unverifiable, .tooLarge] }

        /// The next version; nil once the consuming task is cancelled (or after an error).
        public mutating func next() async throws(StateStoreError) -> StateSnapshot<State>? {
            guard !ended else { return nil }
            while let event = await base.next() {
                switch event {
                case .snapshot(let snapshot): return snapshot
                case .problem(let error) where unusableVersions == .fail && Self.unusable.contains(error.code):
                    ended = true
                    throw error
                default: continue
                }
            }
            return nil
        }
    }
}
