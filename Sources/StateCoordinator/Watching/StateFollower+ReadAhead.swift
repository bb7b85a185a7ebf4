import Dispatch
import Foundation
import Logging
import Synchronization

/// Reading a temp file of ours ahead of its rename (see ``ReadAhead``).
extension StateFollower {
    /// Reads a closed temp file of ours, the version a writer is about to rename over the state
    /// file, and keeps it verified and decoded (or nothing, if it is gone or does not verify);
    /// see ``ReadAhead``.
    /// - Returns: false when the file is too large to read on the loop thread.
    func readAhead(_ name: String, inline: Bool) -> Bool {
        guard !isStopped else { return true }
        let path = handle.path(name)
        var tooLargeHere = false
        let read = try? StateFileReader(calls: handle.calls).read(directory: SystemCalls.currentDirectory, name: path, path: path) { file in
            guard inline, file.status.size > Self.inlineReloadLimit else { return .read }
            tooLargeHere = true
            return .skip
        }
        if tooLargeHere { return false }
        let ahead = read.flatMap { file in
            (try? file.snapshot(as: State.self, path: handle.stateFilePath)).map {
                ReadAhead(file: file.file, header: file.header, snapshot: $0)
            }
        }
        if read != nil { progress.withLock { $0.machine.statistics.tempFilesRead += 1 } }
        aheadOfRename.withLock { $0 = ahead }
        return true
    }
}
