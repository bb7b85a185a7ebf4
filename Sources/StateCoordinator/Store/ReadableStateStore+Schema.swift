extension ReadableStateStore {
    /// The store's JSON Schema in force at the current version, or nil when it has none.
    /// - Throws: `notFound` or `corrupt` when the header names a schema file that is missing or
    ///   was changed.
    public func schema() async throws(StateStoreError) -> JSONSchema? {
        let place = place
        return try await io.run { () throws(StateStoreError) in try Self.schema(place) }
    }

    /// The synchronous form of ``schema()``.
    @_disfavoredOverload
    public func schema() throws(StateStoreError) -> JSONSchema? {
        try Self.schema(place)
    }

    static func schema(_ place: StorePlace) throws(StateStoreError) -> JSONSchema? {
        switch place {
        case .files(let handle):
            guard let checksum = try handle.readCurrent().header.settings.schema else { return nil }
            return try SchemaFile(handle: handle).load(checksum)
        case .etcd(let access):
            guard let value = try access.readState() else { throw EtcdStoreLocation.noStore(access) }
            guard let checksum = try EtcdVersion(value, path: access.keys.stateKey).header.settings.schema else { return nil }
            return try EtcdSchema(access: access).load(checksum)
        }
    }

    /// The schema named `checksum` (a version's ``StoreSettings/schema``), for a mirror that
    /// carries a source's schema changes over.
    func schema(named checksum: String) async throws(StateStoreError) -> JSONSchema {
        let place = place
        return try await io.run { () throws(StateStoreError) in
            switch place {
            case .files(let handle): try SchemaFile(handle: handle).load(checksum)
            case .etcd(let access): try EtcdSchema(access: access).load(checksum)
            }
        }
    }

    /// Checks `state` against the store's schema without committing anything: nil when it would
    /// be accepted, else the first rule it breaks.
    public func schemaViolation(of state: JSONValue) async throws(StateStoreError) -> SchemaViolation? {
        try await schema()?.firstViolation(of: state)
    }
}
