extension ReadableStateStore {
    /// Who holds the writer lock now (any process: ours, `flock(1)`, Python…), or nil. Never
    /// waits for the lock: it reads `/proc/locks`. Always nil for a store on etcd (no lockfile).
    public func lockHolder() async throws(StateStoreError) -> LockHolder? {
        if case .etcd = place { return nil }
        return try await offPool("reading who holds the lock") { (handle) throws(StateStoreError) in try handle.lockHolder() }
    }

    /// The synchronous form of ``lockHolder()``.
    @_disfavoredOverload
    public func lockHolder() throws(StateStoreError) -> LockHolder? {
        try fileHandle?.lockHolder()
    }

    /// Why someone who is not a writer could hold the writer lock (the lockfile is readable by
    /// every user, or by a group that only reads the state), or nil. `statectl status` and
    /// `verify` show it.
    public func lockFileExposure() async -> String? {
        guard fileHandle != nil else { return nil }
        return (try? await offPool("checking the lockfile") { (handle) throws(StateStoreError) in handle.lockFileExposure() }) ?? nil
    }

    /// Temp files left by writers that died mid-commit (writers remove them by themselves: on a
    /// process's first commit, else within a second of a commit). Temp files of a writer
    /// committing right now are not leftovers: they are listed only when the writer lock is free
    /// (tried without waiting), so this never lists a commit in flight. None for a
    /// store on etcd (no temp files).
    public func orphanTempFiles() async throws(StateStoreError) -> [String] {
        guard fileHandle != nil else { return [] }
        return try await offPool("listing temp files") { (handle) throws(StateStoreError) in try StoreVerifier(handle: handle).orphans() }
    }

    /// The synchronous form of ``orphanTempFiles()``.
    @_disfavoredOverload
    public func orphanTempFiles() throws(StateStoreError) -> [String] {
        guard let handle = fileHandle else { return [] }
        return try StoreVerifier(handle: handle).orphans()
    }
}

extension StoreHandle {
    func lockFileExposure() -> String? {
        let lockPath = path(files.lockFile)
        guard let lock = try? calls.fstatat(SystemCalls.currentDirectory, lockPath), lock.isRegularFile else { return nil }
        return LockFileExposure.problem(
            lock: lock, state: try? calls.fstatat(SystemCalls.currentDirectory, stateFilePath),
            directory: try? calls.fstatat(SystemCalls.currentDirectory, directory), path: lockPath)
    }
}
