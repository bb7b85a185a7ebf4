/// Which file a name or descriptor refers to: its device and inode number (`st_dev`, `st_ino`).
///
/// Two statuses with equal identities are the same file only while one of them is held open: once
/// a file is removed, ext4 may give its inode number to the next file created.
struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    /// `st_dev`: the device holding the file.
    var device: UInt64
    /// `st_ino`: the inode number.
    var inode: UInt64

    var description: String { "device \(device), inode \(inode)" }
}

extension FileStatus {
    /// The file's device and inode.
    var identity: FileIdentity { FileIdentity(device: device, inode: inode) }

    /// Whether `other` is the status of the same file (``FileIdentity``).
    func isSameFile(as other: FileStatus) -> Bool { identity == other.identity }
}
