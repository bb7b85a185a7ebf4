#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// The permissions of the sidecar's Unix socket (`--listen unix:PATH`): those of the stores it
/// serves, so that whoever may connect is whoever could read the state files themselves. Read
/// access to a state file becomes read-write access to the socket (connecting needs write
/// permission); the socket gets the state file's owner and group where the sidecar may give them.
enum UnixSocketAccess {
    /// What a socket serving `stateFiles` should have: the permission bits every file grants
    /// (read, turned into read-write), and the group all of them share (nil when they differ).
    static func access(for stateFiles: [String]) -> (mode: mode_t, owner: uid_t?, group: gid_t?)? {
        var mode: mode_t = 0o666
        var owners: Set<uid_t> = []
        var groups: Set<gid_t> = []
        for path in stateFiles {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            var granted: mode_t = 0
            if status.st_mode & 0o400 != 0 { granted |= 0o600 }
            if status.st_mode & 0o040 != 0 { granted |= 0o060 }
            if status.st_mode & 0o004 != 0 && othersCanReach(path) { granted |= 0o006 }
            mode &= granted
            owners.insert(status.st_uid)
            groups.insert(status.st_gid)
        }
        // The group's bits only for the one group the files share.
        if groups.count != 1 { mode &= ~0o060 }
        return (mode | 0o600, owners.count == 1 ? owners.first : nil, groups.count == 1 ? groups.first : nil)
    }

    /// Whether every directory above `path` lets others search it (a `0644` file in a `0750`
    /// directory is not readable by others).
    static func othersCanReach(_ path: String) -> Bool {
        var directory = (path as NSString).deletingLastPathComponent
        while !directory.isEmpty {
            var status = stat()
            guard stat(directory, &status) == 0, status.st_mode & 0o001 != 0 else { return false }
            if directory == "/" { return true }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return true
    }

    /// Whether the socket's directory could let another user swap the socket between its bind and
    /// its chown/chmod (writable by others or its group, without the sticky bit).
    static func directoryIsShared(_ socketPath: String) -> Bool {
        var status = stat()
        let directory = (socketPath as NSString).deletingLastPathComponent
        guard stat(directory.isEmpty ? "." : directory, &status) == 0 else { return true }
        return status.st_mode & 0o022 != 0 && status.st_mode & S_ISVTX == 0
    }

    /// Gives the socket at `path` its access: the owner and group first (only root may give the
    /// owner; a member may give its group), then the mode. Without the group, the group's bits go.
    static func apply(_ access: (mode: mode_t, owner: uid_t?, group: gid_t?), to path: String) -> Bool {
        var mode = access.mode
        let owner = getuid() == 0 ? access.owner.map { $0 } ?? uid_t.max : uid_t.max  // -1: leave as it is
        if let group = access.group {
            if chown(path, owner, group) != 0 && chown(path, uid_t.max, group) != 0 { mode &= ~0o060 }
        } else if owner != uid_t.max {
            _ = chown(path, owner, gid_t.max)
        }
        return chmod(path, mode) == 0
    }

    /// Whether a process listens on the socket at `path` (a connection is accepted).
    static func isInUse(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// What is at `path` now: nothing, a socket, or something else.
    enum Occupant { case nothing, socket, other }
    static func occupant(of path: String) -> Occupant {
        var status = stat()
        guard lstat(path, &status) == 0 else { return .nothing }
        return status.st_mode & S_IFMT == S_IFSOCK ? .socket : .other
    }
}
