/// What tells one state file version from another without reading it: a rename brings a new
/// inode, a foreign in-place write changes size or change time.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var changeTime: Int64

    init(_ status: FileStatus) {
        device = status.device
        inode = status.inode
        size = status.size
        changeTime = status.changeTimeNanoseconds
    }
}
