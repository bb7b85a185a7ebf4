import Foundation
import Synchronization

/// A store's schema on etcd: a key named by the schema's checksum, as the schema file is on a
/// file store, loaded once per process (its name is its content).
struct EtcdSchema {
    let access: EtcdStoreAccess

    private static let cache = Mutex<[String: JSONSchema]>([:])

    /// Writes `schema` under its checksum (a key that never changes once written: writing it again
    /// writes the same bytes) and returns the checksum, for the header of the version that names it.
    func write(_ schema: JSONSchema) throws(StateStoreError) -> String {
        let checksum = schema.checksum
        let key = access.keys.schema(checksum)
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key)
        put.value = Data(schema.fileBytes)
        _ = try access.perform("write the schema of") { [put] call in
            try await Etcdserverpb_KV.Client(wrapping: call.client).put(put, metadata: call.metadata, options: call.options)
        }
        Self.cache.withLock { $0[String(decoding: key, as: UTF8.self)] = schema }
        return checksum
    }

    func load(_ checksum: String) throws(StateStoreError) -> JSONSchema {
        let key = access.keys.schema(checksum)
        let name = String(decoding: key, as: UTF8.self)
        if let known = Self.cache.withLock({ $0[name] }) { return known }
        guard let value = try access.read(key, doing: "read the schema of") else {
            throw StateStoreError(
                .notFound, "The store's schema \(name) is missing on etcd, so no state can be checked against it.",
                hint: "Nothing was committed. Restore the key, or re-create the store.", path: name)
        }
        let schema = try JSONSchema.stored(
            value.bytes, named: checksum, what: "The store's schema \(name)", hint: "Nothing was committed.", path: name)
        Self.cache.withLock { $0[name] = schema }
        return schema
    }
}
