/// Reading a temp file of ours ahead of its rename (see ``ReadAhead``).
extension StateFollower {
    /// Reads a closed temp file of ours, the version a writer is about to rename over the state
    /// file, and keeps it verified and decoded (or nothing, if it is gone or does not verify).
    func readAhead(_ name: String, inline: Bool, _ lent: inout Lent) -> JobEnd {
        guard !isStopped else { return .done(retry: false) }
        let path = handle.path(name)
        var tooLargeHere = false
        let read = try? StateFileReader(calls: handle.calls).read(directory: SystemCalls.currentDirectory, name: path, path: path) { file in
            guard inline, file.status.size > Self.inlineReloadLimit else { return .read }
            tooLargeHere = true
            return .skip
        }
        if tooLargeHere { return .tooLargeHere }
        if read != nil { lent.reloader.statistics.tempFilesRead += 1 }
        lent.ahead = read.flatMap { file in
            (try? file.snapshot(as: State.self, path: handle.stateFilePath)).map {
                ReadAhead(file: file.file, header: file.header, snapshot: $0)
            }
        }
        return .done(retry: false)
    }
}
