#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemShims
import Foundation

/// What the library asks about its own process and host.
enum ProcessIdentity {
    /// This process's id (`getpid`).
    static var id: Int32 { getpid() }

    /// Whether the process runs as root (`geteuid() == 0`): a root writer keeps a replaced file's
    /// owner and group.
    static var isRoot: Bool { geteuid() == 0 }

    /// The host name (`gethostname`), read once.
    static let hostName: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
    }()

    /// `realpath(3)`: the path with every symbolic link and `..` resolved; nil when it names nothing.
    static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The wall clock in nanoseconds since the epoch (`CLOCK_REALTIME`), as file times are kept.
    static var wallClockNanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return FileStatus.nanoseconds(now)
    }

    /// A pipe for waking a thread (`pipe2` with `O_CLOEXEC | O_NONBLOCK`), or nil.
    static func makeWakePipe() -> (read: CInt, write: CInt)? {
        var fds: [CInt] = [0, 0]
        guard statecoordinator_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) == 0 else { return nil }
        return (fds[0], fds[1])
    }

    /// Writes one byte to a wake pipe; a full pipe already wakes its reader.
    static func poke(_ fd: CInt) {
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    /// Reads a wake pipe empty.
    static func drain(_ fd: CInt) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(fd, &buffer, buffer.count) > 0 {}
    }
}
