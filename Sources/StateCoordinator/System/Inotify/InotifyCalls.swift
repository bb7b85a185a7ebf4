import CInotifyTools
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
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
    /// Nothing: a signal interrupted the wait.
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
    // No `inotifytools_remove_watch_by_wd`: it fails for a watch the kernel already dropped,
    // prints on stderr and keeps its record; the hub re-creates the instance instead.
    /// `inotifytools_next_event(-1)`: blocks until an event (this version of the library blocks
    /// for a timeout of 0 too; its timeouts are whole seconds).
    var nextEvent: @Sendable () -> InotifyNext
    /// The device and inode a directory path names now (`stat`), nil when it names nothing.
    var identify: @Sendable (_ path: String) -> DirectoryIdentity?
    /// The watches the kernel holds for each inotify instance of this process (from
    /// `/proc/self/fdinfo`, one set per instance), or nil when they cannot be listed. The
    /// authority on whether a watch is alive: a directory deleted and re-created at once can get
    /// its old inode number back (ext4 hands a freed number on at once), so a path naming the
    /// same device and inode does not prove that the watch on it survived. Other instances (the
    /// application's own) number their watches from 1 too: the hub looks only at its own, the one
    /// holding its wake watch.
    var kernelWatches: @Sendable () -> [Set<KernelWatch>]? = { nil }

    /// A watch as `/proc/self/fdinfo` lists it: its descriptor and the inode it watches.
    struct KernelWatch: Sendable, Hashable {
        var watch: Int32
        var inode: UInt64
    }

    /// A directory's device and inode.
    typealias DirectoryIdentity = FileIdentity

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
        nextEvent: {
            // libc's errno, cleared first: a failed select or read sets it (the library's own error
            // value may still hold an earlier call's).
            errno = 0
            guard let event = inotifytools_next_event(-1) else {
                let error = errno
                return error == 0 || error == EINTR ? .nothing : .failed(errno: error)
            }
            return .event(
                InotifyEvent(
                    watch: event.pointee.wd, mask: event.pointee.mask,
                    name: String(cString: statecoordinator_inotify_event_name(event))))
        },
        identify: { path in
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            return DirectoryIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        },
        kernelWatches: { KernelWatchList.read() }
    )
}
