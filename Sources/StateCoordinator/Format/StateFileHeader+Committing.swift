import struct Foundation.Date

extension StateFileHeader {
    /// The header of a version this process commits now: the one place a new version's header is
    /// made (a commit, a store's creation, a recovery).
    ///
    /// - Parameters:
    ///   - checksum: the state bytes' checksum when the caller has it already.
    ///   - combined: the IDs of other processes' published mutations it includes (none: nil).
    static func committing(
        store: String, version: UInt64, settings: StoreSettings, stateBytes: [UInt8], checksum: String? = nil, label: String,
        combined: [String]? = nil
    ) -> StateFileHeader {
        StateFileHeader(
            format: formatIdentifier, revision: revision(for: settings), store: store, version: version,
            committedAt: CommitTimestamp.format(Date()), writer: .current(label: label), settings: settings,
            stateBytes: stateBytes.count, checksum: checksum ?? Checksum.of(stateBytes), combined: combined)
    }
}
