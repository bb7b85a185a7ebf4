/// What the store needs to know about the file system a directory is on (from `fstatfs`'s
/// `f_type`): whether `flock` and inotify can be trusted there.
struct FileSystemKind: Sendable, Equatable {
    /// `f_type`.
    let magic: Int64

    /// Magic numbers from `linux/magic.h` and the file systems' sources.
    private static let networkFileSystems: [Int64: String] = [
        0x6969: "NFS",
        0x517B: "SMB",
        0xFF53_4D42: "CIFS",
        0xFE53_4D42: "SMB2",
        0x00C3_6400: "Ceph",
        0x0102_1997: "9P",
        0x5346_414F: "AFS",
        0x6B41_4653: "AFS (kAFS)",
        0x0BD0_0BD0: "Lustre",
        0x4750_4653: "GPFS",
        0x013111A8: "IBRIX",
        0x7461_636F: "OCFS2",
    ]
    private static let fuse: Int64 = 0x6573_5546

    /// The name of the network file system, or nil when the directory is local.
    var networkName: String? { Self.networkFileSystems[magic] }

    /// Whether this is a FUSE mount, where notification of other hosts' writes is not assured.
    var isFUSE: Bool { magic == Self.fuse }
}
