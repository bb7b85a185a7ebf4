/// What is left of a store whose state file was replaced by something that is not a version of
/// it (a foreign writer's plain JSON, or damage): the newest kept version that verifies, the
/// highest version any kept file names, and whether the lockfile is still there.
///
/// Only files the store's own writers make are looked at: the history directory and the
/// lockfile. Reader records are not: any user who can register a reader can write one, and a
/// version found there could push the numbering anywhere.
struct SurvivingStore {
    /// The newest kept version that reads and verifies.
    var lastKept: VerifiedStateFile?
    /// The highest version a kept file's name gives, verifying or not.
    var highestKeptVersion: UInt64?
    /// The lockfile's status, when it is there.
    var lockFile: FileStatus?

    /// The version the foreign write replaced: the one after the newest kept version (each
    /// version is linked into history just before the next one is renamed in).
    var overwrittenVersion: UInt64? { highestKeptVersion.map { $0 &+ 1 } }

    /// What survives in `dir`; nil when nothing does (a bot's own file, never a store: a first
    /// import).
    static func survey(_ handle: StoreHandle, _ dir: StoreDirectory) -> SurvivingStore? {
        let lockFile = try? handle.calls.fstatat(dir.descriptor, handle.files.lockFile)
        let history = dir.history
        let versions = (try? history.versions()) ?? []
        var lastKept: VerifiedStateFile?
        for version in versions.reversed() {
            // A kept version is a version to bring back only if its state is JSON, too.
            if let file = try? history.read(version: version), (try? JSONParser.check(file.stateBytes)) != nil {
                lastKept = file
                break
            }
        }
        guard lockFile != nil || !versions.isEmpty else { return nil }
        return SurvivingStore(lastKept: lastKept, highestKeptVersion: versions.last, lockFile: lockFile)
    }

    /// The error every reader and command gives for a plain JSON file in the place of this store's
    /// state file.
    func overwriteError(_ handle: StoreHandle) -> StateStoreError {
        let path = handle.stateFilePath
        let message: String
        if let lastKept, let overwritten = overwrittenVersion {
            message =
                "\(path) was overwritten by a foreign plain-JSON write: store \(lastKept.header.store) was at version \(overwritten), and version \(lastKept.header.version) is still kept in \(handle.history(SystemCalls.currentDirectory).path)."
        } else if let overwritten = overwrittenVersion {
            message =
                "\(path) was overwritten by a foreign plain-JSON write: the store was at version \(overwritten) or later; no kept version verifies."
        } else {
            message =
                "\(path) was overwritten by a foreign plain-JSON write: the store's lockfile \(handle.path(handle.files.lockFile)) is still there, but its identity and version went with the file (no kept version survives)."
        }
        let command = "statectl --dir \(handle.directory.shellQuoted) --name \(handle.files.name)"
        let restore = lastKept == nil ? "" : " or bring back the last kept version (\(command) recover --restore)"
        return StateStoreError(
            .unverifiable, message,
            hint:
                "Nothing was touched. Stop the writer that replaces this file, then make the plain content the next version (\(command) recover --adopt)\(restore); add --dry-run to see what \(lastKept == nil ? "it" : "either") would do.",
            path: path)
    }
}
