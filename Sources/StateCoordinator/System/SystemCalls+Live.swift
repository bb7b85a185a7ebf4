#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemShims
import SystemPackage

extension SystemCalls {
    /// The real system calls. The only place in the library that calls libc for file operations.
    public static let live = SystemCalls(
        open: { (directory, path, intent) throws(Errno) in
            FileDescriptor(rawValue: try retryingOnInterrupt {
                openat(directory.rawValue, path, intent.flags, mode_t(intent.permissions?.rawValue ?? 0))
            })
        },
        close: { (fd) throws(Errno) in
            // Never retried: on Linux the descriptor is released even when close reports EINTR.
            if Glibc.close(fd.rawValue) == -1 { throw Errno(rawValue: errno) }
        },
        read: { (fd, buffer) throws(Errno) in
            try retryingOnInterrupt { Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count) }
        },
        pread: { (fd, buffer, offset) throws(Errno) in
            try retryingOnInterrupt { Glibc.pread(fd.rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
        },
        write: { (fd, buffer) throws(Errno) in
            try retryingOnInterrupt { Glibc.write(fd.rawValue, buffer.baseAddress, buffer.count) }
        },
        fsync: { (fd) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fsync(fd.rawValue) }
        },
        fstat: { (fd) throws(Errno) in FileStatus(try fd.stat()) },
        fstatat: { (directory, path) throws(Errno) in
            // The path as given, not a FilePath: that drops a trailing slash, which makes
            // fstatat follow a link to a directory (a store directory named `/srv/bot/`).
            var raw = stat()
            _ = try retryingOnInterrupt { Glibc.fstatat(directory.rawValue, path, &raw, AT_SYMLINK_NOFOLLOW) }
            return FileStatus(raw)
        },
        rename: { (directory, from, to) throws(Errno) in
            try failingOnInterrupt { renameat(directory.rawValue, from, directory.rawValue, to) }
        },
        exchange: { (directory, first, second) throws(Errno) in
            try failingOnInterrupt { statecoordinator_exchange(directory.rawValue, first, second) }
        },
        unlink: { (directory, path, removeDirectory) throws(Errno) in
            try failingOnInterrupt { unlinkat(directory.rawValue, path, removeDirectory ? AT_REMOVEDIR : 0) }
        },
        link: { (fromDirectory, from, toDirectory, to) throws(Errno) in
            try failingOnInterrupt { linkat(fromDirectory.rawValue, from, toDirectory.rawValue, to, 0) }
        },
        mkdir: { (directory, path, permissions) throws(Errno) in
            try failingOnInterrupt { mkdirat(directory.rawValue, path, mode_t(permissions.rawValue)) }
        },
        flock: { (fd, operation) throws(Errno) in
            _ = try retryingOnInterrupt { statecoordinator_flock(fd.rawValue, operation.rawValue) }
        },
        fchmod: { (fd, permissions) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fchmod(fd.rawValue, mode_t(permissions.rawValue)) }
        },
        fchown: { (fd, owner, group) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fchown(fd.rawValue, uid_t(owner), gid_t(group)) }
        },
        fstatfs: { (fd) throws(Errno) in
            var type: Int64 = 0
            _ = try retryingOnInterrupt { statecoordinator_fstatfs_type(fd.rawValue, &type) }
            return type
        },
        listDirectory: { (directory) throws(Errno) in
            // fdopendir takes ownership of its descriptor, so give it a duplicate.
            let copy = try retryingOnInterrupt { fcntl(directory.rawValue, F_DUPFD_CLOEXEC, 0) }
            guard let stream = fdopendir(copy) else {
                let code = Errno(rawValue: errno)
                Glibc.close(copy)
                throw code
            }
            defer { closedir(stream) }
            rewinddir(stream)
            var names: [String] = []
            while true {
                errno = 0
                guard let entry = readdir(stream) else {
                    if errno != 0 { throw Errno(rawValue: errno) }
                    return names
                }
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
        }
    )
}
