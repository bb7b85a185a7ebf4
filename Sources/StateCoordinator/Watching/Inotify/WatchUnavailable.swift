#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why inotify cannot serve a directory; the reader then polls and reports this reason.
enum WatchUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    case initializationFailed(errno: Int32)
    case watchFailed(directory: String, errno: Int32)

    var description: String {
        switch self {
        case .initializationFailed(let errno) where errno == EMFILE:
            return "inotify_init failed: too many inotify instances for this user (raise fs.inotify.max_user_instances)"
        case .initializationFailed(let errno):
            return "inotify_init failed: \(String(cString: strerror(errno)))"
        case .watchFailed(let directory, let errno) where errno == ENOSPC:
            return "inotify_add_watch on \(directory) failed: too many watches (raise fs.inotify.max_user_watches)"
        case .watchFailed(let directory, let errno):
            return "inotify_add_watch on \(directory) failed: \(String(cString: strerror(errno)))"
        }
    }
}
