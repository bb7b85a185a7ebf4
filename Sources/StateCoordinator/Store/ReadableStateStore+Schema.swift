extension ReadableStateStore {
    /// The store's JSON Schema in force at the current version, or nil when it has none.
    /// - Throws: `notFound` or `corrupt` when the header names a schema file that is missing or
    ///   was changed.
    public func schema() async throws(StateStoreError) -> JSONSchema? {
        try await offPool { (handle) throws(StateStoreError) in try Self.schema(handle) }
    }

    /// The synchronous form of ``schema()``.
    @_disfavoredOverload
    public func schema() throws(StateStoreError) -> JSONSchema? {
        try Self.schema(handle)
    }

    static func schema(_ handle: StoreHandle) throws(StateStoreError) -> JSONSchema? {
        guard let checksum = try handle.readCurrent().header.settings.schema else { return nil }
        return try SchemaFile(handle: handle).load(checksum)
    }

    /// Checks `state` against the store's schema without committing anything: nil when it would
    /// be accepted, else the first rule it breaks.
    public func schemaViolation(of state: JSONValue) async throws(StateStoreError) -> SchemaViolation? {
        try await schema()?.firstViolation(of: state)
    }
}
