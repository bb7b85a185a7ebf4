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
        open: { (directory, path, flags, mode) throws(Errno) in
            try retryingOnInterrupt { openat(directory, path, flags, mode_t(mode)) }
        },
        close: { (fd) throws(Errno) in
            // Never retried: on Linux the descriptor is released even when close reports EINTR.
            if Glibc.close(fd) == -1 { throw Errno(rawValue: errno) }
        },
        read: { (fd, buffer) throws(Errno) in
            try retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        },
        pread: { (fd, buffer, offset) throws(Errno) in
            try retryingOnInterrupt { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
        },
        write: { (fd, buffer) throws(Errno) in
            try retryingOnInterrupt { Glibc.write(fd, buffer.baseAddress, buffer.count) }
        },
        fsync: { (fd) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fsync(fd) }
        },
        fstat: { (fd) throws(Errno) in
            var raw = stat()
            _ = try retryingOnInterrupt { Glibc.fstat(fd, &raw) }
            return FileStatus(raw)
        },
        fstatat: { (directory, path) throws(Errno) in
            var raw = stat()
            _ = try retryingOnInterrupt { Glibc.fstatat(directory, path, &raw, AT_SYMLINK_NOFOLLOW) }
            return FileStatus(raw)
        },
        rename: { (directory, from, to) throws(Errno) in
            try failingOnInterrupt { renameat(directory, from, directory, to) }
        },
        unlink: { (directory, path, removeDirectory) throws(Errno) in
            try failingOnInterrupt { unlinkat(directory, path, removeDirectory ? AT_REMOVEDIR : 0) }
        },
        link: { (fromDirectory, from, toDirectory, to) throws(Errno) in
            try failingOnInterrupt { linkat(fromDirectory, from, toDirectory, to, 0) }
        },
        mkdir: { (directory, path, mode) throws(Errno) in
            try failingOnInterrupt { mkdirat(directory, path, mode_t(mode)) }
        },
        flock: { (fd, operation) throws(Errno) in
            _ = try retryingOnInterrupt { statecoordinator_flock(fd, operation) }
        },
        fchmod: { (fd, mode) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fchmod(fd, mode_t(mode)) }
        },
        fchown: { (fd, owner, group) throws(Errno) in
            _ = try retryingOnInterrupt { Glibc.fchown(fd, uid_t(owner), gid_t(group)) }
        },
        fstatfs: { (fd) throws(Errno) in
            var type: Int64 = 0
            _ = try retryingOnInterrupt { statecoordinator_fstatfs_type(fd, &type) }
            return type
        },
        listDirectory: { (directory) throws(Errno) in
            // fdopendir takes ownership of its descriptor, so give it a duplicate.
            let copy = try retryingOnInterrupt { fcntl(directory, F_DUPFD_CLOEXEC, 0) }
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
