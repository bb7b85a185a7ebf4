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
/// retried `close` can close a descriptor another thread just received, and neither must the
/// non-idempotent calls (see ``failingOnInterrupt(_:)``).
@inline(__always)
func retryingOnInterrupt<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = Errno(rawValue: errno)
        if code != .interrupted { throw code }
    }
}

/// Runs a libc call that is not idempotent (rename, link, unlink, mkdir), reporting `EINTR` like
/// any other error instead of retrying it: the interrupted call may have taken effect, and a
/// retry would then fail (`ENOENT`, `EEXIST`) or act twice. The caller finds out what happened.
@inline(__always)
func failingOnInterrupt(_ call: () -> CInt) throws(Errno) {
    if call() == -1 { throw Errno(rawValue: errno) }
}

/// The same policy for a call made through the ``SystemCalls`` seam: retried while it throws
/// `EINTR`, so that an `EINTR` injected by a test is handled as a real one is. Bounded, so that a
/// hook that always injects `EINTR` gets the error instead of a hang.
@inline(__always)
func retryingInterrupted<T>(_ call: () throws(Errno) -> T) throws(Errno) -> T {
    for _ in 1..<1_000 {
        do { return try call() } catch .interrupted { continue }
    }
    return try call()
}
