#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemShims

/// A pipe that wakes a thread blocked elsewhere (the watch hub, in `inotifytools_next_event`,
/// watches its read end): one byte written is one wake-up.
enum WakePipe {
    /// A new pipe (`pipe2` with `O_CLOEXEC | O_NONBLOCK`), or nil.
    static func make() -> (read: CInt, write: CInt)? {
        var fds: [CInt] = [0, 0]
        guard statecoordinator_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) == 0 else { return nil }
        return (fds[0], fds[1])
    }

    /// Writes one byte; a full pipe already wakes its reader.
    static func poke(_ fd: CInt) {
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    /// Reads the pipe empty.
    static func drain(_ fd: CInt) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(fd, &buffer, buffer.count) > 0 {}
    }
}
