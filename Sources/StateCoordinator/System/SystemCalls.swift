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
    public func intercepting(
        before: @escaping @Sendable (SystemCallName) throws(Errno) -> Void,
        after: @escaping @Sendable (SystemCallName) -> Void = { _ in }
    ) -> SystemCalls {
        let base = self
        var wrapped = self
        wrapped.open = { (d, p, i) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.open); let r = try base.open(d, p, i); after(.open); return r }
        }
        wrapped.close = { (fd) throws(Errno) in try before(.close); try base.close(fd); after(.close) }
        wrapped.read = { (fd, b) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.read); let r = try base.read(fd, b); after(.read); return r }
        }
        wrapped.pread = { (fd, b, o) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.read); let r = try base.pread(fd, b, o); after(.read); return r }
        }
        wrapped.write = { (fd, b) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.write); let r = try base.write(fd, b); after(.write); return r }
        }
        wrapped.fsync = { (fd) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fsync); try base.fsync(fd); after(.fsync) }
        }
        wrapped.fstat = { (fd) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fstat); let r = try base.fstat(fd); after(.fstat); return r }
        }
        wrapped.fstatat = { (d, p) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fstatat); let r = try base.fstatat(d, p); after(.fstatat); return r }
        }
        wrapped.rename = { (d, a, b) throws(Errno) in try before(.rename); try base.rename(d, a, b); after(.rename) }
        wrapped.exchange = { (d, a, b) throws(Errno) in try before(.exchange); try base.exchange(d, a, b); after(.exchange) }
        wrapped.unlink = { (d, p, r) throws(Errno) in try before(.unlink); try base.unlink(d, p, r); after(.unlink) }
        wrapped.link = { (a, b, c, d) throws(Errno) in try before(.link); try base.link(a, b, c, d); after(.link) }
        wrapped.mkdir = { (d, p, m) throws(Errno) in try before(.mkdir); try base.mkdir(d, p, m); after(.mkdir) }
        wrapped.flock = { (fd, op) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.flock); try base.flock(fd, op); after(.flock) }
        }
        wrapped.fchmod = { (fd, m) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fchmod); try base.fchmod(fd, m); after(.fchmod) }
        }
        wrapped.fchown = { (fd, u, g) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fchown); try base.fchown(fd, u, g); after(.fchown) }
        }
        wrapped.fstatfs = { (fd) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.fstatfs); let r = try base.fstatfs(fd); after(.fstatfs); return r }
        }
        wrapped.listDirectory = { (d) throws(Errno) in
            try retryingInterrupted { () throws(Errno) in try before(.listDirectory); let r = try base.listDirectory(d); after(.listDirectory); return r }
        }
        return wrapped
    }
}
