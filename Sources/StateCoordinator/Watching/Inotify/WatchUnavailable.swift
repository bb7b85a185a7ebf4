import SystemPackage

/// Why inotify cannot serve a directory; the reader then polls and reports this reason.
enum WatchUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    case initializationFailed(errno: Int32)
    case watchFailed(directory: String, errno: Int32)
    /// libinotifytools made its instance, but its descriptor could not be told from the process's
    /// other inotify instances (see ``InotifyCalls/live``).
    case descriptorNotFound

    var description: String {
        switch self {
        case .initializationFailed(let errno) where Errno(rawValue: errno) == .tooManyOpenFiles:
            return "inotify_init failed: too many inotify instances for this user (raise fs.inotify.max_user_instances)"
        case .initializationFailed(let errno):
            return "inotify_init failed: \(Errno(rawValue: errno))"
        case .watchFailed(let directory, let errno) where Errno(rawValue: errno) == .noSpace:
            return "inotify_add_watch on \(directory) failed: too many watches (raise fs.inotify.max_user_watches)"
        case .watchFailed(let directory, let errno):
            return "inotify_add_watch on \(directory) failed: \(Errno(rawValue: errno))"
        case .descriptorNotFound:
            return "libinotifytools' inotify descriptor could not be found (/proc/self/fd unreadable, or other threads making inotify instances at the same time)"
        }
    }
}
