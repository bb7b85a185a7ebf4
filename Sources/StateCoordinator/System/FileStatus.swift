#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import struct Foundation.Date
import SystemPackage

/// The parts of `struct stat` the store relies on.
@_spi(FaultInjection)
public struct FileStatus: Sendable, Equatable {
    /// `st_dev`: the device holding the file.
    public var device: UInt64
    /// `st_ino`: the inode number.
    public var inode: UInt64
    /// `st_mode` including the file-type bits.
    public var mode: UInt32
    /// `st_uid`.
    public var owner: UInt32
    /// `st_gid`.
    public var group: UInt32
    /// `st_size` in bytes.
    public var size: Int64
    /// `st_nlink`.
    public var linkCount: UInt64
    /// `st_ctim` in nanoseconds since the epoch.
    public var changeTimeNanoseconds: Int64 = 0
    /// `st_mtim` in nanoseconds since the epoch (unlike the change time, a rename leaves it alone).
    public var modificationTimeNanoseconds: Int64 = 0

    /// `st_ctim` as a date (100 ns precision).
    var changeTime: Date {
        Date(timeIntervalSince1970: Double(changeTimeNanoseconds / 1_000_000_000) + Double(changeTimeNanoseconds % 1_000_000_000) / 1e9)
    }

    /// For a state file, when it was renamed into place: its change time while it has one link.
    /// A second link (the next commit linking it into history, or one a crashed writer left)
    /// stamped the change time again, later than the rename: then nil.
    var renameTime: Date? { linkCount == 1 ? changeTime : nil }

    /// The permission bits (`st_mode & 07777`).
    public var permissions: UInt32 { mode & 0o7777 }
    /// Whether this is a regular file.
    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    /// Whether this is a directory.
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    /// Whether this is a symbolic link.
    public var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

    /// The parts of a swift-system `Stat` the store relies on.
    init(_ status: Stat) { self.init(status.rawValue) }

    init(_ raw: stat) {
        device = UInt64(raw.st_dev)
        inode = UInt64(raw.st_ino)
        mode = UInt32(raw.st_mode)
        owner = UInt32(raw.st_uid)
        group = UInt32(raw.st_gid)
        size = Int64(raw.st_size)
        linkCount = UInt64(raw.st_nlink)
        changeTimeNanoseconds = Self.nanoseconds(raw.st_ctim)
        modificationTimeNanoseconds = Self.nanoseconds(raw.st_mtim)
    }

    /// A file time in nanoseconds since the epoch, saturated: a time past 2262 (or before 1678),
    /// which `touch -d` or a restored archive can set, is clamped instead of overflowing.
    static func nanoseconds(_ time: timespec) -> Int64 {
        let (seconds, overflow) = Int64(time.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return time.tv_sec < 0 ? .min : .max }
        let (total, overflowAdding) = seconds.addingReportingOverflow(Int64(time.tv_nsec))
        return overflowAdding ? .max : total
    }

    /// Creates a status from its parts (for tests).
    public init(device: UInt64, inode: UInt64, mode: UInt32, owner: UInt32, group: UInt32, size: Int64, linkCount: UInt64) {
        self.device = device
        self.inode = inode
        self.mode = mode
        self.owner = owner
        self.group = group
        self.size = size
        self.linkCount = linkCount
    }
}
