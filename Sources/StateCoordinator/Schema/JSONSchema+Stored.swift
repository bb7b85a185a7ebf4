extension JSONSchema {
    /// A schema read back from where a store keeps it (a schema file, a key on etcd), named by
    /// the SHA-256 of its bytes: checked against its name, parsed and compiled.
    ///
    /// - Parameters:
    ///   - what: how messages name it ("The store's schema file PATH").
    ///   - hint: what to do when it was changed in place.
    /// - Throws: `corrupt` when the bytes do not match the name or are not a supported schema.
    static func stored(_ bytes: [UInt8], named checksum: String, what: String, hint: String, path: String) throws(StateStoreError) -> JSONSchema {
        guard Checksum.of(bytes) == checksum, let value = try? JSONValue(parsing: bytes) else {
            throw StateStoreError(.corrupt, "\(what) does not match its name (\(checksum)): it was changed in place.", hint: hint, path: path)
        }
        do { return try JSONSchema(value) } catch {
            throw StateStoreError(.corrupt, "\(what) is not a supported schema: \(error.message)", path: path)
        }
    }
}
