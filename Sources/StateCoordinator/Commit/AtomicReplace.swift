import SystemPackage

/// Replaces a file atomically in one call, the steps of a ``PendingFile`` taken in order: create a
/// temp file beside it, write, fsync (durability permitting), close, `rename(2)` over, fsync the
/// directory. For files whose replacement needs nothing between the steps (a schema file, a
/// store's first version); a commit takes the steps itself. Callers hold the writer lock.
struct AtomicReplace {
    let directory: PendingFile.TargetDirectory

    init(_ directory: PendingFile.TargetDirectory) { self.directory = directory }

    init(calls: SystemCalls, directory: FileDescriptor, directoryPath: String) {
        self.init(PendingFile.TargetDirectory(calls: calls, descriptor: directory, path: directoryPath))
    }

    /// Writes `bytes` to a new temp file named with `tempPrefix`, then renames it over `target`.
    ///
    /// - Throws: a ``StateStoreError`` naming the step, path and errno (see
    ///   ``PendingFile/replace(_:durability:timer:)`` for the outcome after a failed rename).
    func replace(
        _ target: String, with bytes: [UInt8], tempPrefix: String, attributes: PendingFile.Attributes, durability: Durability
    ) throws(StateStoreError) {
        let file = try written(bytes, tempPrefix: tempPrefix, attributes: attributes, durability: durability)
        try file.replace(target, durability: durability)
    }

    /// Like ``replace(_:with:tempPrefix:attributes:durability:)``, keeping the file replaced under
    /// `keep` (``PendingFile/replace(_:keeping:durability:)``). Returns the status of the file kept.
    func replace(
        _ target: String, with bytes: [UInt8], keeping keep: String, tempPrefix: String, attributes: PendingFile.Attributes,
        durability: Durability
    ) throws(StateStoreError) -> FileStatus {
        let file = try written(bytes, tempPrefix: tempPrefix, attributes: attributes, durability: durability)
        return try file.replace(target, keeping: keep, durability: durability)
    }

    private func written(
        _ bytes: [UInt8], tempPrefix: String, attributes: PendingFile.Attributes, durability: Durability
    ) throws(StateStoreError) -> PendingFile {
        let file = try PendingFile.create(in: directory, prefix: tempPrefix, attributes: attributes)
        try file.write(bytes)
        if durability != .none { try file.synchronize() }
        try file.close()
        return file
    }
}
