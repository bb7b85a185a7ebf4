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

/// What asking libinotifytools for the next event gave.
enum InotifyNext: Sendable, Equatable {
    /// An event.
    case event(InotifyEvent)
    /// Nothing: the call was not to wait and nothing was queued, or a signal interrupted the wait.
    case nothing
    /// The read of the inotify descriptor failed with this errno (not `EINTR`).
    case failed(errno: Int32)
}

/// The seam over libinotifytools: the only code in the project that calls it. Every call must be
/// made from the watch hub's thread, because the library keeps one process-global inotify
/// instance in unsynchronized static state.
struct InotifyCalls: Sendable {
    /// `inotifytools_initialize`; returns nil or the errno of the failure (`EMFILE` when
    /// `fs.inotify.max_user_instances` is exhausted).
    var initialize: @Sendable () -> Int32?
    /// `inotifytools_cleanup`: closes the inotify instance and forgets every watch record. The
    /// only way to drop the record of a watch the kernel already removed (see ``WatchHub``).
    var cleanup: @Sendable () -> Void
    /// `inotifytools_watch_file`; returns the watch descriptor or `.failure(errno)` (`ENOSPC` when
    /// `fs.inotify.max_user_watches` is exhausted).
    var watch: @Sendable (_ path: String, _ mask: UInt32) -> Result<Int32, InotifyFailure>
    /// `inotifytools_remove_watch_by_wd`; false when the kernel refused (the watch was already
    /// gone), in which case the library keeps its record and has printed a line on stderr.
    var removeWatch: @Sendable (_ watch: Int32) -> Bool
    /// `inotifytools_next_event`: with `wait`, blocks until an event; without, returns what is
    /// already buffered or queued, or ``InotifyNext/nothing``.
    var nextEvent: @Sendable (_ wait: Bool) -> InotifyNext

    struct InotifyFailure: Error, Sendable {
        var errno: Int32
    }

    static let live = InotifyCalls(
        initialize: {
            inotifytools_initialize() == 0 ? inotifytools_error() : nil
        },
        cleanup: {
            inotifytools_cleanup()
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
            inotifytools_remove_watch_by_wd(watch) != 0
        },
        nextEvent: { wait in
            // libc's errno, cleared first: a timeout leaves it at 0, a failed select or read sets it
            // (the library's own error value may still hold an earlier call's).
            errno = 0
            guard let event = inotifytools_next_event(wait ? -1 : 0) else {
                let error = errno
                return error == 0 || error == EINTR ? .nothing : .failed(errno: error)
            }
            return .event(
                InotifyEvent(
                    watch: event.pointee.wd, mask: event.pointee.mask,
                    name: String(cString: statecoordinator_inotify_event_name(event))))
        }
    )
}
