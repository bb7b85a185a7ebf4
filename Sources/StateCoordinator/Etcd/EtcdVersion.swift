/// A version of a store as etcd holds it: the state file's bytes, verified, and the revision
/// that last changed the key.
struct EtcdVersion: Sendable {
    var header: StateFileHeader
    var file: [UInt8]
    var stateBytes: ArraySlice<UInt8>
    var modRevision: Int64

    /// Verifies `value` as a state file (header, length, checksum).
    init(_ value: EtcdValue, path: String) throws(StateStoreError) {
        let decoded = try StateFileCodec.decode(value.bytes, path: path)
        header = decoded.header
        stateBytes = decoded.state
        file = value.bytes
        modRevision = value.modRevision
    }

    func snapshot<State: Decodable & Sendable>(as type: State.Type, path: String) throws(StateStoreError) -> StateSnapshot<State> {
        StateSnapshot(
            header: header, state: try StateEncoding.decode(State.self, from: stateBytes, path: path, source: .version(header.version)),
            fileSize: file.count)
    }
}
