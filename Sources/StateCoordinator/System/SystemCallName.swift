/// The system calls the store makes, named so tests can inject a failure into exactly one of them.
///
/// Every call the library makes into libc goes through ``SystemCalls``; this enum names each
/// entry point of that seam.
@_spi(FaultInjection)
public enum SystemCallName: String, Sendable, CaseIterable {
    case open, close, read, write, fsync, fstat, fstatat, rename, exchange, unlink, link, mkdir
    case flock, fchmod, fchown, fstatfs, listDirectory
}
