import CInotifyTools
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// One event read from the inotify instance: which watch, what happened, and to which name.
struct InotifyEvent: Sendable, Equatable {
    /// The watch descriptor (-1 for a queue overflow).
    var watch: Int32
    /// `IN_*` bits.
    var mask: UInt32
    /// The name inside the watched directory; empty for events on the directory itself.
    var name: String
}

/// The thin adapter over libinotifytools: the only code in the project that calls it. Every call
/// is made from the watch loop's thread, because the library keeps one process-global inotify
/// instance in unsynchronized static state.
///
/// The library makes the instance and its watches; the loop reads the instance's descriptor
/// itself, polled beside its wake-up and its timers. The library's own reader cannot be
/// multiplexed: `inotifytools_next_event` blocks for any timeout under a second (0 included),
/// and events it has buffered are invisible to a `poll` of the descriptor.
struct InotifyCalls: Sendable {
    /// `inotifytools_initialize`, then the descriptor of the instance it made, set non-blocking;
    /// or the errno of the failure (`EMFILE` when `fs.inotify.max_user_instances` is exhausted;
    /// ``InotifyFailure/descriptorNotFound`` when the descriptor cannot be told).
    var open: @Sendable () -> Result<FileDescriptor, InotifyFailure>
    /// `inotifytools_cleanup`: closes the instance and forgets every watch record.
    var close: @Sendable () -> Void
    /// `inotifytools_watch_file`; returns the watch descriptor or the errno (`ENOSPC` when
    /// `fs.inotify.max_user_watches` is exhausted). The path must not have been watched before
    /// under that exact spelling in this instance: the library keeps the record of a watch the
    /// kernel dropped, and would answer with that one (see ``WatchLoop``).
    var watch: @Sendable (_ path: String, _ mask: UInt32) -> Result<Int32, InotifyFailure>
    /// One `read(2)` of the instance's descriptor into `buffer` (the loop's own, reused: at least
    /// ``InotifyEventParser/bufferSize`` bytes): the events it held, none when it held none.
    var read: @Sendable (_ descriptor: FileDescriptor, _ buffer: UnsafeMutableRawBufferPointer) -> Result<[InotifyEvent], InotifyFailure>

    struct InotifyFailure: Error, Sendable, Equatable {
        var errno: Int32

        /// The library made its instance, but its descriptor could not be told from the
        /// process's others: the one new `anon_inode:inotify` in `/proc/self/fd`.
        static let descriptorNotFound = InotifyFailure(errno: -1)
    }

    /// How often ``open`` tries again when another thread made or closed an inotify instance
    /// while the library made its own, so that its descriptor cannot be told.
    static let openAttempts = 8

    static let live = InotifyCalls(
        open: {
            for _ in 0..<openAttempts {
                guard let before = InotifyDescriptors.list() else { return .failure(.descriptorNotFound) }
                guard inotifytools_initialize() != 0 else { return .failure(InotifyFailure(errno: inotifytools_error())) }
                let made = (InotifyDescriptors.list() ?? []).subtracting(before)
                // The one instance that appeared, and a fresh one (no watch yet): not another
                // component's, made while another of its own closed.
                if made.count == 1, let fd = made.first, InotifyDescriptors.watchCount(fd) == 0 {
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    return .success(FileDescriptor(rawValue: fd))
                }
                inotifytools_cleanup()
            }
            return .failure(.descriptorNotFound)
        },
        close: {
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
        read: { descriptor, buffer in
            while true {
                let count = Glibc.read(descriptor.rawValue, buffer.baseAddress, buffer.count)
                if count > 0 { return .success(InotifyEventParser.events(in: UnsafeRawBufferPointer(rebasing: buffer[..<count]))) }
                // inotify never ends: an end of file means the descriptor is not what it was.
                if count == 0 { return .failure(InotifyFailure(errno: EIO)) }
                switch errno {
                case EINTR: continue
                case EAGAIN: return .success([])
                case let failure: return .failure(InotifyFailure(errno: failure))
                }
            }
        }
    )
}
