/// A key's value as etcd returned it, with the revisions that order it.
struct EtcdValue: Sendable, Equatable {
    var key: [UInt8]
    var bytes: [UInt8]
    /// The revision of the key's last change: a transaction compares it to know nobody wrote since.
    var modRevision: Int64
    var createRevision: Int64

    init(key: [UInt8], bytes: [UInt8], modRevision: Int64, createRevision: Int64) {
        self.key = key
        self.bytes = bytes
        self.modRevision = modRevision
        self.createRevision = createRevision
    }

    init(_ kv: Etcdserverpb_KeyValue) {
        key = Array(kv.key)
        bytes = Array(kv.value)
        modRevision = kv.modRevision
        createRevision = kv.createRevision
    }
}
