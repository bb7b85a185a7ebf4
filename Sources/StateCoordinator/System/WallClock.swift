#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The wall clock in nanoseconds since the epoch (`CLOCK_REALTIME`), as file times are kept.
enum WallClock {
    static var nanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return FileStatus.nanoseconds(now)
    }
}
