import Foundation

/// The requests of a transaction, built from plain values.
enum EtcdTransactions {
    static func modRevisionEquals(_ key: [UInt8], _ revision: Int64) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key)
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = revision
        return compare
    }

    /// Compares true while `key` does not exist (its creation revision is 0).
    static func absent(_ key: [UInt8]) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key)
        compare.target = .create
        compare.result = .equal
        compare.createRevision = 0
        return compare
    }

    static func put(_ key: [UInt8], _ value: [UInt8]) -> Etcdserverpb_RequestOp { put(key, value, lease: 0) }

    /// Puts `key` attached to `lease` (0: no lease).
    static func put(_ key: [UInt8], _ value: [UInt8], lease: Int64) -> Etcdserverpb_RequestOp {
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key)
        put.value = Data(value)
        put.lease = lease
        var op = Etcdserverpb_RequestOp()
        op.requestPut = put
        return op
    }

    /// Deletes `key`.
    static func delete(_ key: [UInt8]) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(key)
        var op = Etcdserverpb_RequestOp()
        op.requestDeleteRange = delete
        return op
    }

    static func range(_ key: [UInt8]) -> Etcdserverpb_RequestOp {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data(key)
        var op = Etcdserverpb_RequestOp()
        op.requestRange = range
        return op
    }

    /// Deletes the keys in `[from, to)`.
    static func deleteRange(from: [UInt8], to: [UInt8]) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(from)
        delete.rangeEnd = Data(to)
        var op = Etcdserverpb_RequestOp()
        op.requestDeleteRange = delete
        return op
    }

    static func request(compare: [Etcdserverpb_Compare], success: [Etcdserverpb_RequestOp], failure: [Etcdserverpb_RequestOp]) -> Etcdserverpb_TxnRequest {
        var request = Etcdserverpb_TxnRequest()
        request.compare = compare
        request.success = success
        request.failure = failure
        return request
    }
}
