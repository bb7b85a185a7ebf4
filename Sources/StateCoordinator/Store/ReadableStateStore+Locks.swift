extension ReadableStateStore {
    /// Who holds the writer lock now (any process: ours, `flock(1)`, Python…), or nil. Never
    /// waits for the lock: it reads `/proc/locks`.
    public func lockHolder() async throws(StateStoreError) -> LockHolder? {
        try await offPool { (handle) throws(StateStoreError) in try handle.lockHolder() }
    }

    /// The synchronous form of ``lockHolder()``.
    @_disfavoredOverload
    public func lockHolder() throws(StateStoreError) -> LockHolder? {
        try handle.lockHolder()
    }

    /// Why someone who is not a writer could hold the writer lock (the lockfile is readable by
    /// every user, or by a group that only reads the state), or nil. `statectl status` and
    /// `verify` show it.
    public func lockFileExposure() async -> String? {
        (try? await offPool { (handle) throws(StateStoreError) in handle.lockFileExposure() }) ?? nil
    }

    /// Temp files left by writers that died mid-commit (the next commit removes them). Temp files
    /// of a writer committing right now are not leftovers: they are listed only when the writer
    /// lock is free (tried without waiting), so this never lists a commit in flight.
    public func orphanTempFiles() async throws(StateStoreError) -> [String] {
        try await offPool { (handle) throws(StateStoreError) in try StoreVerifier(handle: handle).orphans() }
    }

    /// The synchronous form of ``orphanTempFiles()``.
    @_disfavoredOverload
    public func orphanTempFiles() throws(StateStoreError) -> [String] {
        try StoreVerifier(handle: handle).orphans()
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
