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

    /// Temp files left by writers that died mid-commit (the next commit removes them).
    public func orphanTempFiles() throws(StateStoreError) -> [String] {
        let dir = try handle.openDirectory()
        return try OrphanSweeper(calls: handle.calls, directory: dir.rawValue, directoryPath: directory, files: handle.files)
            .orphans()
    }

    /// How a watcher of this store would learn of new versions here: inotify, or polling and why.
    /// Arms and releases a watch to find out.
    public func supportedWatchMode(options: WatchOptions = WatchOptions()) -> WatchMode {
        let follower = StateFollower<JSONValue>(handle: handle, options: options, since: nil, everyVersion: false) { _ in }
        defer { follower.stop() }
        return follower.probeMode()
    }

    /// Checks the whole store: the state file, the lockfile, leftover temp files and every kept
    /// version. Returns every problem found, one sentence each; empty when the store is healthy.
    public func verify() -> [String] {
        var problems: [String] = []
        let current: StateSnapshot<JSONValue>?
        do {
            current = try handle.readCurrent().snapshot(as: JSONValue.self, path: stateFilePath)
        } catch {
            problems.append(error.description)
            current = nil
        }
        do {
            let status = try handle.calls.fstatat(AT_FDCWD, lockFilePath)
            if status.isSymbolicLink {
                problems.append("\(lockFilePath) is a symbolic link; it must be a regular file.")
            } else if !status.isRegularFile {
                problems.append("\(lockFilePath) is not a regular file.")
            }
        } catch {
            problems.append("\(lockFilePath): \(StateStoreError.system(.openLockfile, path: lockFilePath, errno: error).message)")
        }
        do {
            for name in try orphanTempFiles() {
                problems.append("\(directory)/\(name) is a temp file left by a writer that died mid-commit; the next commit removes it.")
            }
        } catch {
            problems.append(error.description)
        }
        problems += verifyHistory(current: current)
        return problems
    }

    private func verifyHistory(current: StateSnapshot<JSONValue>?) -> [String] {
        var problems: [String] = []
        do {
            let dir = try handle.openDirectory()
            let history = handle.history(dir.rawValue)
            let versions = try history.versions()
            if let current, versions.count > current.settings.keepHistory {
                problems.append("\(history.path) keeps \(versions.count) versions, more than the store's keepHistory of \(current.settings.keepHistory).")
            }
            for version in versions {
                do {
                    let kept = try history.read(version: version)
                    if kept.header.version != version {
                        problems.append("\(history.path)/\(StoreFiles.historyFile(version: version)) holds version \(kept.header.version).")
                    }
                    if let current, version >= current.version, kept.header.store == current.storeID {
                        problems.append("\(history.path) keeps version \(version), not older than the current \(current.version).")
                    }
                } catch {
                    problems.append(error.description)
                }
            }
        } catch {
            problems.append(error.description)
        }
        return problems
    }
}
