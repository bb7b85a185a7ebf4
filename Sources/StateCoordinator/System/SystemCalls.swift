import SystemPackage

/// The seam between the store's logic and libc: one closure per system call.
///
/// Production code uses ``live``; tests wrap it with ``intercepting(_:)`` to inject an errno
/// (ENOSPC, EIO, …) into any single call or to stop a process between two steps. Nothing else in
/// the library calls libc for file operations. Paths are relative to the directory descriptor
/// passed with them (`*at` calls), so every step of a commit names the same directory.
@_spi(FaultInjection)
public struct SystemCalls: Sendable {
    /// `openat(2)` as an ``OpenIntent`` says; returns the new descriptor.
    public var open: @Sendable (_ directory: FileDescriptor, _ path: String, _ intent: OpenIntent) throws(Errno) -> FileDescriptor
    /// `close(2)`; never retried.
    public var close: @Sendable (_ fd: FileDescriptor) throws(Errno) -> Void
    /// `read(2)` into the buffer; returns the byte count (0 at end of file).
    public var read: @Sendable (_ fd: FileDescriptor, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    /// `pread(2)` into the buffer at `offset`; returns the byte count (0 at end of file).
    public var pread: @Sendable (_ fd: FileDescriptor, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) throws(Errno) -> Int
    /// `write(2)` from the buffer; returns the byte count, which may be short.
    public var write: @Sendable (_ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int
    /// `fsync(2)`.
    public var fsync: @Sendable (_ fd: FileDescriptor) throws(Errno) -> Void
    /// `fstat(2)`.
    public var fstat: @Sendable (_ fd: FileDescriptor) throws(Errno) -> FileStatus
    /// `fstatat(2)` with `AT_SYMLINK_NOFOLLOW`.
    public var fstatat: @Sendable (_ directory: FileDescriptor, _ path: String) throws(Errno) -> FileStatus
    /// `renameat(2)` within one directory.
    public var rename: @Sendable (_ directory: FileDescriptor, _ from: String, _ to: String) throws(Errno) -> Void
    /// `renameat2(2)` with `RENAME_EXCHANGE` within one directory: the two names swap files atomically.
    public var exchange: @Sendable (_ directory: FileDescriptor, _ first: String, _ second: String) throws(Errno) -> Void
    /// `unlinkat(2)`; `removeDirectory` adds `AT_REMOVEDIR`.
    public var unlink: @Sendable (_ directory: FileDescriptor, _ path: String, _ removeDirectory: Bool) throws(Errno) -> Void
    /// `linkat(2)` from one directory to another (no `AT_SYMLINK_FOLLOW`).
    public var link: @Sendable (_ fromDirectory: FileDescriptor, _ from: String, _ toDirectory: FileDescriptor, _ to: String) throws(Errno) -> Void
    /// `mkdirat(2)`.
    public var mkdir: @Sendable (_ directory: FileDescriptor, _ path: String, _ permissions: FilePermissions) throws(Errno) -> Void
    /// `flock(2)`.
    public var flock: @Sendable (_ fd: FileDescriptor, _ operation: LockOperation) throws(Errno) -> Void
    /// `fchmod(2)`.
    public var fchmod: @Sendable (_ fd: FileDescriptor, _ permissions: FilePermissions) throws(Errno) -> Void
    /// `fchown(2)`.
    public var fchown: @Sendable (_ fd: FileDescriptor, _ owner: UInt32, _ group: UInt32) throws(Errno) -> Void
    /// `fstatfs(2)`; returns `f_type`, the file system's magic number.
    public var fstatfs: @Sendable (_ fd: FileDescriptor) throws(Errno) -> Int64
    /// The names in a directory (`fdopendir` + `readdir` on a duplicate), without `.` and `..`.
    public var listDirectory: @Sendable (_ directory: FileDescriptor) throws(Errno) -> [String]

    /// Wraps every call: `before` runs first and may throw an injected errno instead of making the
    /// call; `after` runs once the call succeeded (a test helper can `_exit` there to simulate a
    /// crash between two steps).
    ///
    /// The project's EINTR policy applies to the wrapped calls as it does to the live ones, on top
    /// of the hook: an `EINTR` thrown by `before` is retried for the calls that are retried
    /// (open, read, write, fsync, stat, flock, …), and reported for close, rename, exchange, link, unlink and mkdir.
    /// An injected EINTR must be transient: after 1,000 in a row the call reports it.
    /// The calls an EINTR is reported for, never retried (the project's EINTR policy).
    private static let notRetried: Set<SystemCallName> = [.close, .rename, .exchange, .unlink, .link, .mkdir]

    public func intercepting(
        before: @escaping @Sendable (SystemCallName) throws(Errno) -> Void,
        after: @escaping @Sendable (SystemCallName) -> Void = { _ in }
    ) -> SystemCalls {
        let base = self
        /// The one wrapper: the hook, the call, the after-hook; retried on EINTR for the calls
        /// the EINTR policy retries.
        @Sendable func hooked<T>(_ name: SystemCallName, _ call: () throws(Errno) -> T) throws(Errno) -> T {
            func attempt() throws(Errno) -> T {
                try before(name)
                let result = try call()
                after(name)
                return result
            }
            return Self.notRetried.contains(name) ? try attempt() : try retryingInterrupted(attempt)
        }
        var wrapped = self
        wrapped.open = { (d, p, i) throws(Errno) in try hooked(.open) { () throws(Errno) in try base.open(d, p, i) } }
        wrapped.close = { (fd) throws(Errno) in try hooked(.close) { () throws(Errno) in try base.close(fd) } }
        wrapped.read = { (fd, b) throws(Errno) in try hooked(.read) { () throws(Errno) in try base.read(fd, b) } }
        wrapped.pread = { (fd, b, o) throws(Errno) in try hooked(.read) { () throws(Errno) in try base.pread(fd, b, o) } }
        wrapped.write = { (fd, b) throws(Errno) in try hooked(.write) { () throws(Errno) in try base.write(fd, b) } }
        wrapped.fsync = { (fd) throws(Errno) in try hooked(.fsync) { () throws(Errno) in try base.fsync(fd) } }
        wrapped.fstat = { (fd) throws(Errno) in try hooked(.fstat) { () throws(Errno) in try base.fstat(fd) } }
        wrapped.fstatat = { (d, p) throws(Errno) in try hooked(.fstatat) { () throws(Errno) in try base.fstatat(d, p) } }
        wrapped.rename = { (d, a, b) throws(Errno) in try hooked(.rename) { () throws(Errno) in try base.rename(d, a, b) } }
        wrapped.exchange = { (d, a, b) throws(Errno) in try hooked(.exchange) { () throws(Errno) in try base.exchange(d, a, b) } }
        wrapped.unlink = { (d, p, r) throws(Errno) in try hooked(.unlink) { () throws(Errno) in try base.unlink(d, p, r) } }
        wrapped.link = { (a, b, c, d) throws(Errno) in try hooked(.link) { () throws(Errno) in try base.link(a, b, c, d) } }
        wrapped.mkdir = { (d, p, m) throws(Errno) in try hooked(.mkdir) { () throws(Errno) in try base.mkdir(d, p, m) } }
        wrapped.flock = { (fd, op) throws(Errno) in try hooked(.flock) { () throws(Errno) in try base.flock(fd, op) } }
        wrapped.fchmod = { (fd, m) throws(Errno) in try hooked(.fchmod) { () throws(Errno) in try base.fchmod(fd, m) } }
        wrapped.fchown = { (fd, u, g) throws(Errno) in try hooked(.fchown) { () throws(Errno) in try base.fchown(fd, u, g) } }
        wrapped.fstatfs = { (fd) throws(Errno) in try hooked(.fstatfs) { () throws(Errno) in try base.fstatfs(fd) } }
        wrapped.listDirectory = { (d) throws(Errno) in try hooked(.listDirectory) { () throws(Errno) in try base.listDirectory(d) } }
        return wrapped
    }
}
