extension StateStore {
    /// Opens the store in `directory`, creating it with `initial` at version 0 if it does not
    /// exist yet. Safe when several processes start at once: the creation is decided under the
    /// writer lock, so exactly one of them creates the store and the others open it.
    ///
    /// An existing store is never changed (its settings are its own; `settings` apply only to a
    /// new one), and a damaged one is not replaced: a state file that is plain JSON, or a store
    /// without its lockfile, is reported as ``init(directory:name:options:)-fdoc`` reports it.
    ///
    /// - Parameters:
    ///   - directory: an existing directory on a local file system.
    ///   - name: the store's name (default `state`).
    ///   - initial: the first state, used only if the store is created.
    ///   - settings: the new store's policy (history depth, size limit, file mode).
    ///   - options: per-process options.
    public static func openOrCreate(
        directory: String, name: String = "state", initial: @escaping @autoclosure @Sendable () -> State,
        settings: StoreSettings = StoreSettings(), options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        let handle = try await BlockingWorkThread.runOnce("StateCoordinator.open") { () throws(StateStoreError) in
            try openingOrCreating(directory: directory, name: name, initial: initial(), settings: settings, options: options)
        }
        return StateStore(writing: handle)
    }

    /// The synchronous form of ``openOrCreate(directory:name:initial:settings:options:)``.
    @_disfavoredOverload
    public static func openOrCreate(
        directory: String, name: String = "state", initial: @autoclosure @Sendable () -> State,
        settings: StoreSettings = StoreSettings(), options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        StateStore(writing: try openingOrCreating(directory: directory, name: name, initial: initial(), settings: settings, options: options))
    }

    /// Creates a store in an existing directory: its lockfile, and its state file at version 0.
    ///
    /// - Parameters:
    ///   - directory: an existing directory on a local file system.
    ///   - name: the store's name (default `state`).
    ///   - initial: the first state.
    ///   - settings: the store's policy (history depth, size limit, file mode), kept with the store.
    ///   - force: re-create over an existing store (the recovery path for a corrupt one). The new
    ///     store gets a new identity and its numbering continues above the highest version still
    ///     known (the old header, or history), so versions never go backwards for readers.
    ///   - options: per-process options.
    /// - Throws: `alreadyExists` when a store is there and `force` is false; `notFound` when the
    ///   directory does not exist.
    @discardableResult
    public static func create(
        directory: String, name: String = "state", initial: State, settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        let handle = try await BlockingWorkThread.runOnce("StateCoordinator.create") { () throws(StateStoreError) in
            try creating(directory: directory, name: name, initial: initial, settings: settings, force: force, options: options)
        }
        return StateStore(writing: handle)
    }

    /// The synchronous form of ``create(directory:name:initial:settings:force:options:)``.
    @_disfavoredOverload
    @discardableResult
    public static func create(
        directory: String, name: String = "state", initial: State, settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        StateStore(
            writing: try creating(directory: directory, name: name, initial: initial, settings: settings, force: force, options: options))
    }

    /// Imports a plain JSON file (such as the `trading_state.json` the original Python bot wrote
    /// with `tempfile.mkstemp` + `os.replace`) into a new store as version 0.
    ///
    /// A file elsewhere is only read. A file that is the new store's own state file
    /// (`directory/NAME.json`, a bot's file imported where it lies) is imported in place: it is
    /// first linked to `NAME.plain.json` (kept whole), then the store's first version is renamed
    /// over it under the writer lock, so that the bot's file name now holds the store and an old
    /// bot's next plain write is reported as a foreign overwrite. Stop the bot first: a write it
    /// makes between the read and the rename is not in the import.
    ///
    /// - Throws: `badState` when the file is not valid JSON (the message gives line and column) or
    ///   does not decode as `State`; `tooLarge` above the size limit; and what
    ///   ``create(directory:name:initial:settings:force:options:)-4xxhs`` throws.
    @discardableResult
    public static func importPlainJSON(
        from file: String, directory: String, name: String = "state", settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        let handle = try await BlockingWorkThread.runOnce("StateCoordinator.import") { () throws(StateStoreError) in
            let (initial, source) = try readPlainJSON(file, settings: settings, options: options)
            return try creating(
                directory: directory, name: name, initial: initial, settings: settings, force: force, options: options, importing: source)
        }
        return StateStore(writing: handle)
    }

    /// The synchronous form of ``importPlainJSON(from:directory:name:settings:force:options:)``.
    @_disfavoredOverload
    @discardableResult
    public static func importPlainJSON(
        from file: String, directory: String, name: String = "state", settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        let (initial, source) = try readPlainJSON(file, settings: settings, options: options)
        return StateStore(
            writing: try creating(
                directory: directory, name: name, initial: initial, settings: settings, force: force, options: options, importing: source))
    }

    private static func creating(
        directory: String, name: String, initial: State, settings: StoreSettings, force: Bool, options: Options,
        importing source: FileStatus? = nil
    ) throws(StateStoreError) -> StoreHandle {
        try settings.validateForCreation()
        let stateBytes = try StateEncoding.encode(initial, limit: settings.maximumStateBytes)
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: true)
        try StoreCreation(handle: handle, settings: settings, importing: source)
            .run(stateBytes: stateBytes, whenExists: force ? .replace : .fail)
        return try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true)
    }

    private static func openingOrCreating(
        directory: String, name: String, initial: @autoclosure () -> State, settings: StoreSettings, options: Options
    ) throws(StateStoreError) -> StoreHandle {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: true)
        do {
            return try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true)
        } catch where error.code == .notFound && error.path == handle.stateFilePath {
            // No state file: create it, unless another process did since (decided under the lock).
        }
        try settings.validateForCreation()
        let stateBytes = try StateEncoding.encode(initial(), limit: settings.maximumStateBytes)
        try StoreCreation(handle: handle, settings: settings).run(stateBytes: stateBytes, whenExists: .keep)
        return try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true)
    }

    /// The file's state and its status (to tell whether it is the store's own state file).
    private static func readPlainJSON(
        _ file: String, settings: StoreSettings, options: Options
    ) throws(StateStoreError) -> (State, FileStatus) {
        let calls = options.systemCalls
        let bytes: [UInt8]
        let status: FileStatus
        do {
            let fd = OwnedDescriptor(try calls.open(SystemCalls.currentDirectory, file, .readFollowingLinks), calls: calls)
            status = try calls.fstat(fd.descriptor)
            bytes = try calls.read(fd.descriptor, upTo: settings.maximumStateBytes + 1)
        } catch {
            throw .system(.readState, path: file, errno: error)
        }
        guard bytes.count <= settings.maximumStateBytes else {
            throw StateStoreError(
                .tooLarge, "\(file) is larger than the store's limit of \(settings.maximumStateBytes) bytes.",
                hint: "Create the store with a larger maximumStateBytes.", path: file)
        }
        return (try StateEncoding.decode(State.self, from: bytes, path: file, source: .input), status)
    }
}

extension StateStore where State == JSONValue {
    /// Creates an untyped store whose state starts as `{}`.
    @discardableResult
    public static func create(
        directory: String, name: String = "state", settings: StoreSettings = StoreSettings(), force: Bool = false,
        options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        try await create(directory: directory, name: name, initial: .object([:]), settings: settings, force: force, options: options)
    }

    /// The synchronous form of ``create(directory:name:settings:force:options:)``.
    @_disfavoredOverload
    @discardableResult
    public static func create(
        directory: String, name: String = "state", settings: StoreSettings = StoreSettings(), force: Bool = false,
        options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        try create(directory: directory, name: name, initial: .object([:]), settings: settings, force: force, options: options)
    }
}
