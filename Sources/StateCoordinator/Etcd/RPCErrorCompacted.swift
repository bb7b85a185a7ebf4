import GRPCCore

/// The error a watch cancelled for compaction stands for (etcd answers a read of a compacted
/// revision with `OUT_OF_RANGE` the same way).
enum RPCErrorCompacted {
    static func make(_ compactRevision: Int64) -> RPCError {
        RPCError(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted (compacted up to \(compactRevision))")
    }
}
