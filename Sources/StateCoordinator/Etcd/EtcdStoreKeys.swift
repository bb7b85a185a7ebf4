/// Where a store's keys are in etcd's key space (see <doc:RunningOnEtcd>):
///
/// - `PREFIX/NAME/state`: the newest version, exactly the bytes of a state file (header line and
///   state), so that verification, `jq` and the version numbers carry over.
/// - `PREFIX/NAME/history/VERSION` (twenty digits, so that keys sort by version): a kept version,
///   written in the same transaction that replaces it.
/// - `PREFIX/NAME/schema/SHA256`: a schema, named by its checksum as on a file store.
struct EtcdStoreKeys: Sendable, Hashable {
    let prefix: String
    let name: String

    init(prefix: String, name: String) throws(StateStoreError) {
        _ = try StoreFiles(name: name)  // the same rule for names as on a file store
        self.prefix = prefix
        self.name = name
    }

    var base: String { "\(prefix)/\(name)/" }
    var state: [UInt8] { Array((base + "state").utf8) }
    var historyPrefix: [UInt8] { Array((base + "history/").utf8) }
    func history(_ version: UInt64) -> [UInt8] { historyPrefix + Array(Self.padded(version).utf8) }
    func schema(_ checksum: String) -> [UInt8] { Array((base + "schema/" + checksum).utf8) }

    /// The state key as text, for messages and for ``ReadableStateStore/stateFilePath``.
    var stateKey: String { base + "state" }

    /// The version a history key names, nil for any other key.
    func version(ofHistoryKey key: [UInt8]) -> UInt64? {
        guard key.starts(with: historyPrefix), key.count == historyPrefix.count + 20 else { return nil }
        return UInt64(String(decoding: key[historyPrefix.count...], as: UTF8.self))
    }

    static func padded(_ version: UInt64) -> String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The end of the range of keys starting with `prefix` (etcd's `range_end`: the prefix with
    /// its last byte incremented).
    static func rangeEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
