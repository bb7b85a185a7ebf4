#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Runs a libc call that reports failure as `-1` + `errno`, retrying while it fails with `EINTR`.
///
/// The project's one EINTR policy (as in swift-system's `valueOrErrno`): interrupted
/// open/read/write/fsync/flock are retried; `close` must never go through here, because a
/// retried `close` can close a descriptor another thread just received.
@inline(__always)
func retryingOnInterrupt<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = Errno(rawValue: errno)
        if code != .interrupted { throw code }
    }
}
