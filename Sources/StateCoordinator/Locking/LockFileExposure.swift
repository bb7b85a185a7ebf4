/// Whether someone who is not a writer can open the lockfile: `flock(2)` needs only read access,
/// so whoever can open it can hold the writer lock and block every commit (a halt included).
/// Readers never lock; the lockfile is the writers' alone.
enum LockFileExposure {
    /// Why `lock` (the lockfile's status) lets a non-writer hold the lock, judged against `state`
    /// (the state file's) and `directory` (the store directory's): a group that may write either is
    /// a writers' group; nil when it does not.
    static func problem(lock: FileStatus, state: FileStatus?, directory: FileStatus? = nil, path: String) -> String? {
        let mode = String(lock.permissions, radix: 8)
        let fix = "Make it the writers' alone: chmod 600 \(path.shellQuoted) (660 for a writers' group that may write the state)."
        if lock.permissions & 0o004 != 0 {
            return "\(path) is readable by every local user (mode 0\(mode)): any of them can hold the writer lock and block every commit. \(fix)"
        }
        // A writers' group: the lockfile's group may write the state, or the store's directory.
        let groupWrites = [state, directory].contains { $0.map { $0.permissions & 0o020 != 0 && $0.group == lock.group } ?? false }
        if lock.permissions & 0o040 != 0, !groupWrites {
            return "\(path) is readable by its group (mode 0\(mode)), which may not write the state: any member can hold the writer lock and block every commit. \(fix)"
        }
        return nil
    }
}
