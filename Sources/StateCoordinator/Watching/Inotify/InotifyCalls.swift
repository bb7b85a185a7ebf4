import CInotifyTools
#if canImport(Glibc)
import Glibc
#endif

/// One event as the watch hub hands it on: which watch, what happened, and to which name.
struct InotifyEvent: Sendable, Equatable {
    /// The watch descriptor (-1 for a queue overflow).
    var watch: Int32
    /// `IN_*` bits.
    var mask: UInt32
    /// The name inside the watched directory; empty for events on the directory itself.
    var name: String
}

/// The seam over libinotifytools: the only code in the project that calls it. Every call must be
/// made from the watch hub's thread, because the library keeps one process-global inotify
/// instance in unsynchronized static state.
struct InotifyCalls: Sendable {
    /// `inotifytools_initialize`; returns nil or the errno of the failure (`EMFILE` when
    /// `fs.inotify.max_user_instances` is exhausted).
    var initialize: @Sendable () -> Int32?
    /// `inotifytools_watch_file`; returns the watch descriptor or `.failure(errno)` (`ENOSPC` when
    /// `fs.inotify.max_user_watches` is exhausted).
    var watch: @Sendable (_ path: String, _ mask: UInt32) -> Result<Int32, InotifyFailure>
    /// `inotifytools_remove_watch_by_wd`.
    var removeWatch: @Sendable (_ watch: Int32) -> Void
    /// `inotifytools_next_event(-1)`: blocks until an event; nil when interrupted or failed.
    var nextEvent: @Sendable () -> InotifyEvent?

    struct InotifyFailure: Error, Sendable {
        var errno: Int32
    }

    static let live = InotifyCalls(
        initialize: {
            inotifytools_initialize() == 0 ? inotifytools_error() : nil
        },
        watch: { path, mask in
            guard inotifytools_watch_file(path, Int32(bitPattern: mask)) != 0 else {
                return .failure(InotifyFailure(errno: inotifytools_error()))
            }
            // The library records a directory under its name with a trailing slash.
            var watch = inotifytools_wd_from_filename(path)
            if watch < 0 { watch = inotifytools_wd_from_filename(path + "/") }
            return watch >= 0 ? .success(watch) : .failure(InotifyFailure(errno: EINVAL))
        },
        removeWatch: { watch in
            _ = inotifytools_remove_watch_by_wd(watch)
        },
        nextEvent: {
            guard let event = inotifytools_next_event(-1) else { return nil }
            return InotifyEvent(
                watch: event.pointee.wd, mask: event.pointee.mask,
                name: String(cString: statecoordinator_inotify_event_name(event)))
        }
    )
}
