import SystemPackage

extension StateStoreError {
    /// Maps a failed system call to an error naming the step, the path and the errno.
    ///
    /// - Parameter stateUnchanged: whether the committed state is known to be untouched, which the
    ///   message then says (true for every step before the rename).
    static func system(
        _ step: Step, path: String, errno: Errno, stateUnchanged: Bool = true
    ) -> StateStoreError {
        let code = Code(errno: errno, step: step)
        var error = StateStoreError(
            code, "\(step) of \(path) failed (\(errno.symbolicName): \(errno)).", hint: hint(for: code, step: step), step: step,
            path: path, errno: errno)
        error.committedStateUnchanged = stateUnchanged
        return error
    }

    private static func hint(for code: Code, step: Step) -> String? {
        switch code {
        case .noSpace: return "Free space (or quota) on that file system and retry."
        case .permissionDenied: return "Check the owner and mode of the store directory and its files."
        case .symbolicLink: return "The store never follows symbolic links; replace the link with the real file."
        case .readOnlyFileSystem: return "Remount the file system read-write, or open the store read-only."
        case .directorySyncUnsupported:
            return "This file system cannot fsync a directory; open the store with durability .noDirectorySync."
        case .notFound where step == .openDirectory || step == .openLockfile || step == .readState:
            return "Create the store first (StateStore.create, or statectl init)."
        default: return nil
        }
    }
}

extension StateStoreError.Code {
    /// The code for an errno from a given step.
    init(errno: Errno, step: StateStoreError.Step) {
        switch errno {
        case .noSpace, .diskQuotaExceeded: self = .noSpace
        case .permissionDenied, .notPermitted: self = .permissionDenied
        case .noSuchFileOrDirectory: self = .notFound
        case .tooManySymbolicLinkLevels: self = .symbolicLink
        case .readOnlyFileSystem: self = .readOnlyFileSystem
        case .invalidArgument where step == .syncDirectory: self = .directorySyncUnsupported
        default: self = .ioFailure
        }
    }
}

extension Errno {
    /// The C name of the errno (`ENOSPC`), for messages people search for.
    var symbolicName: String {
        switch self {
        case .noSpace: "ENOSPC"
        case .diskQuotaExceeded: "EDQUOT"
        case .ioError: "EIO"
        case .permissionDenied: "EACCES"
        case .notPermitted: "EPERM"
        case .noSuchFileOrDirectory: "ENOENT"
        case .tooManySymbolicLinkLevels: "ELOOP"
        case .readOnlyFileSystem: "EROFS"
        case .invalidArgument: "EINVAL"
        case .fileExists: "EEXIST"
        case .wouldBlock: "EWOULDBLOCK"
        case .interrupted: "EINTR"
        case .badFileDescriptor: "EBADF"
        case .notDirectory: "ENOTDIR"
        case .isDirectory: "EISDIR"
        case .tooManyOpenFiles: "EMFILE"
        default: "errno \(rawValue)"
        }
    }
}

extension StateStoreError {
    /// This error with its commit outcome set (``description`` states it).
    func with(outcome: CommitOutcome) -> StateStoreError {
        var error = self
        error.outcome = outcome
        return error
    }
}
