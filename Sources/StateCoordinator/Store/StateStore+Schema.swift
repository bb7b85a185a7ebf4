extension StateStore {
    /// Sets the store's JSON Schema (nil clears it), as a new version with the same state: from
    /// then on every writer validates each new state against it before the rename, and refuses
    /// one that breaks it with ``StateStoreError/Code/schemaViolation``, committing nothing.
    ///
    /// ```swift
    /// struct Risk: Codable, Sendable { var halt = false }
    /// let store = try await StateStore<Risk>(directory: "/srv/bot")
    /// let schema = try JSONSchema(["type": "object", "properties": ["halt": ["type": "boolean"]], "required": ["halt"]])
    /// try await store.setSchema(schema)
    /// ```
    ///
    /// The schema is kept in `NAME.schema-HEX.json` beside the state (named by its SHA-256, never
    /// changed) and named in the header's settings, so that every process applies the same one
    /// and each version records the schema it was written under. A store with a schema is
    /// written with header revision 2, which writers that predate schemas refuse.
    ///
    /// - Parameters:
    ///   - schema: the schema to enforce from this version on; nil removes it.
    ///   - expectedVersion: set it only if the store is at this version (compare-and-swap).
    /// - Throws: ``StateStoreError/Code/schemaViolation`` when the current state breaks the new
    ///   schema (nothing changes: fix the state first).
    @discardableResult
    public func setSchema(_ schema: JSONSchema?, expecting expectedVersion: UInt64? = nil) async throws -> StateSnapshot<State> {
        try await submit(expecting: expectedVersion, commitUnchanged: false, settingsChange: schemaChange(schema)) { _ in }.snapshot
    }

    /// The synchronous form of ``setSchema(_:expecting:)``.
    @_disfavoredOverload
    @discardableResult
    public func setSchema(_ schema: JSONSchema?, expecting expectedVersion: UInt64? = nil) throws -> StateSnapshot<State> {
        try submitAndWait(expecting: expectedVersion, commitUnchanged: false, settingsChange: schemaChange(schema)) { _ in }.snapshot
    }

    func schemaChange(_ schema: JSONSchema?) -> PendingUpdate<State>.SettingsChange {
        let handle = fileHandle
        return { (settings, target) throws(StateStoreError) in
            let fileMode = settings.fileMode
            settings.schema = try schema.map { (schema) throws(StateStoreError) in
                switch target {
                case .directory(let directory):
                    guard let handle else { throw StateStoreError(.invalidArgument, "A schema file needs a store in a directory.") }
                    return try SchemaFile(handle: handle).write(schema, directory: directory, fileMode: fileMode)
                case .etcd(let access):
                    return try EtcdSchema(access: access).write(schema)
                }
            }
        }
    }
}

extension StateStore where State: StateSchemaProviding {
    /// Sets the schema the state type declares (``StateSchemaProviding/jsonSchema``), so that
    /// the bots' `Codable` type and the operators' schema cannot drift apart.
    @discardableResult
    public func setSchemaFromStateType() async throws -> StateSnapshot<State> {
        try await setSchema(try JSONSchema(State.jsonSchema))
    }
}

/// A state type that declares the JSON Schema its encoding satisfies, for
/// ``StateStore/setSchemaFromStateType()``. Keep it beside the type, and test that the type's
/// encodings pass it (``JSONSchema/accepts(_:)``).
public protocol StateSchemaProviding {
    /// The schema (the subset ``JSONSchema`` supports).
    static var jsonSchema: JSONValue { get }
}
