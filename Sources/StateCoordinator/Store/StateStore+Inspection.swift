#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension StateStore {
    /// Who holds the writer lock now (any process: ours, `flock(1)`, Python…), or nil. Never waits.
    public func lockHolder() throws(StateStoreError) -> LockHolder? {
        let status: FileStatus
        do { status = try handle.calls.fstatat(AT_FDCWD, lockFilePath) } catch {
            throw .system(.openLockfile, path: lockFilePath, errno: error)
        }
        return LockHolder.find(device: status.device, inode: status.inode)
    }

    /// Temp files left by writers that died mid-commit (the next commit removes them). Temp files
    /// of a writer committing right now are not leftovers: they are listed only when the writer
    /// lock is free (tried without waiting), so this never lists a commit in flight.
    public func orphanTempFiles() throws(StateStoreError) -> [String] {
        try StoreVerifier(handle: handle).orphans()
    }

    /// How a watcher of this store would learn of new versions here: inotify, or polling and why.
    /// Arms and releases a watch to find out.
    public func supportedWatchMode(options: WatchOptions = WatchOptions()) -> WatchMode {
        let follower = StateFollower<JSONValue>(handle: handle, options: options, since: nil, everyVersion: false) { _ in }
        defer { follower.stop() }
        return follower.probeMode()
    }

    /// Checks the whole store: the state file, the lockfile, leftover temp files and every kept
    /// version, listing every problem it finds in one run. Damage and leftovers are told apart
    /// (see ``VerificationReport``); commits landing meanwhile never show as either.
    public func verify() -> VerificationReport {
        StoreVerifier(handle: handle).run()
    }

    /// ``verify()`` for a store that may not open: a missing lockfile, or a plain JSON file where
    /// the state file should be, is reported in the list with everything else.
    /// - Throws: `notFound` when there is no state file, `invalidArgument` for a bad name.
    public static func verify(
        directory: String, name: String = "state", options: Options = Options()
    ) throws(StateStoreError) -> VerificationReport {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options)
        let dir = try handle.openDirectory()
        do { _ = try handle.calls.fstatat(dir.rawValue, handle.files.stateFile) } catch .noSuchFileOrDirectory {
            throw StateStoreError(
                .notFound, "No store named \"\(name)\" in \(directory): \(handle.stateFilePath) does not exist.",
                hint: "Create it first (StateStore.create, or statectl init).", path: handle.stateFilePath)
        } catch {
            throw .system(.readState, path: handle.stateFilePath, errno: error)
        }
        return StoreVerifier(handle: handle).run()
    }
}
