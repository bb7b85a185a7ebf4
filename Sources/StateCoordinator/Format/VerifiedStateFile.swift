import Foundation

/// A state file that was read whole and passed verification.
struct VerifiedStateFile: Sendable {
    var header: StateFileHeader
    /// The exact state bytes (the JSON text and its final line feed).
    var stateBytes: ArraySlice<UInt8>
    /// Size of the whole file in bytes.
    var fileSize: Int
    /// The file that was read, still open: its device and inode identify this version's file
    /// for as long as it is held (see ``PinnedFile``).
    var file: PinnedFile
    /// The status of the file when it was read.
    var status: FileStatus { file.status }

    /// Decodes the state and wraps it in a snapshot. A file read as the state file stamps the
    /// snapshot's ``StateSnapshot/replacedAt`` with its change time while that is its rename's;
    /// a kept one (`fromHistory`) does not: linking it into history changed it since.
    func snapshot<State: Decodable & Sendable>(
        as type: State.Type, path: String, fromHistory: Bool = false
    ) throws(StateStoreError) -> StateSnapshot<State> {
        var snapshot = StateSnapshot(header: header, state: try StateEncoding.decode(State.self, from: stateBytes, path: path, source: .version(header.version)),
            fileSize: fileSize)
        if !fromHistory { snapshot.replacedAt = status.renameTime }
        return snapshot
    }
}
