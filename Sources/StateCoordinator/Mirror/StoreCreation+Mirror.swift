extension StoreCreation {
    /// Opens a mirror's local store, creating it when absent with `state` as its first version,
    /// numbered `version` (the source's current one) rather than 0. The creation is decided
    /// under the writer lock, as ``StateStore/openOrCreate(directory:name:initial:settings:options:)-3wjdb``
    /// decides it: of two mirrors starting at once, one creates the store and the other opens it.
    static func mirrorDestination(
        directory: String, name: String, settings: StoreSettings, state: JSONValue, version: UInt64,
        options: StateStore<JSONValue>.Options
    ) throws(StateStoreError) -> (handle: StoreHandle, created: Bool) {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: true)
        do {
            return (try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true), false)
        } catch where error.code == .notFound && error.path == handle.stateFilePath {
            // No state file: create it, unless another mirror did since.
        }
        try settings.validate()
        let stateBytes = try StateEncoding.encode(state, limit: settings.maximumStateBytes)
        var creation = StoreCreation(handle: handle, settings: settings)
        creation.startingVersion = version
        let created = try creation.run(stateBytes: stateBytes, whenExists: .keep)
        return (try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true), created)
    }
}
