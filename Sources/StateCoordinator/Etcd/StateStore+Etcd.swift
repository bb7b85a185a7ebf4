extension StateStore {
    /// Opens an existing store on an etcd cluster for reading and writing: the same store API as
    /// on a directory (<doc:RunningOnEtcd>). Creates nothing.
    ///
    /// ```swift
    /// struct Risk: Codable, Sendable { var halt = false; var maxPosition = 100 }
    /// let etcd = try EtcdConfiguration(endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
    /// let store = try await StateStore<Risk>(etcd: etcd)
    /// try await store.update { $0.halt = true }
    /// ```
    ///
    /// - Parameters:
    ///   - etcd: the cluster and the key prefix.
    ///   - name: the store's name (default `state`): its keys are under `PREFIX/NAME/`.
    ///   - options: per-process options: the label, the logger, and the lock timeout, which bounds
    ///     how long a commit keeps retrying after other writers won the race. Durability does not
    ///     apply: etcd's members fsync before they answer.
    /// - Throws: `notFound` when the store does not exist; `unavailable` when no member answers.
    public convenience init(etcd: EtcdConfiguration, name: String = "state", options: Options = Options()) async throws(StateStoreError) {
        let access = try await BlockingWorkThread.runOnce("StateCoordinator.open") { () throws(StateStoreError) in
            try EtcdStoreAccess.open(etcd, name: name, options: options, forWriting: true)
        }
        self.init(writing: access, options: options)
    }

    /// The synchronous form of ``init(etcd:name:options:)``.
    @_disfavoredOverload
    public convenience init(etcd: EtcdConfiguration, name: String = "state", options: Options = Options()) throws(StateStoreError) {
        self.init(writing: try EtcdStoreAccess.open(etcd, name: name, options: options, forWriting: true), options: options)
    }

    /// Opens the store on etcd, creating it with `initial` at version 0 if it does not exist yet.
    /// Safe when several processes (on several hosts) start at once: the creation is one
    /// transaction that holds only while the key is absent, so exactly one of them creates it.
    ///
    /// - Parameters:
    ///   - etcd: the cluster and the key prefix.
    ///   - name: the store's name (default `state`).
    ///   - initial: the first state, used only if the store is created.
    ///   - settings: the new store's policy (history depth, size limit); `keepHistoryFor` is not
    ///     supported on etcd.
    ///   - options: per-process options.
    public static func openOrCreate(
        etcd: EtcdConfiguration, name: String = "state", initial: @escaping @autoclosure @Sendable () -> State,
        settings: StoreSettings = StoreSettings(), options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        let access = try await BlockingWorkThread.runOnce("StateCoordinator.open") { () throws(StateStoreError) in
            try creating(etcd: etcd, name: name, initial: initial(), settings: settings, whenExists: .keep, options: options)
        }
        return StateStore(writing: access, options: options)
    }

    /// The synchronous form of ``openOrCreate(etcd:name:initial:settings:options:)``.
    @_disfavoredOverload
    public static func openOrCreate(
        etcd: EtcdConfiguration, name: String = "state", initial: @autoclosure @Sendable () -> State,
        settings: StoreSettings = StoreSettings(), options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        StateStore(writing: try creating(etcd: etcd, name: name, initial: initial(), settings: settings, whenExists: .keep, options: options), options: options)
    }

    /// Creates a store on etcd at version 0.
    ///
    /// - Parameters:
    ///   - etcd: the cluster and the key prefix.
    ///   - name: the store's name (default `state`).
    ///   - initial: the first state.
    ///   - settings: the store's policy (history depth, size limit), kept in its header.
    ///   - force: re-create over an existing store: a new identity, numbered on above the old
    ///     one's version; its kept versions are dropped.
    ///   - options: per-process options.
    /// - Throws: `alreadyExists` when the store exists and `force` is false.
    @discardableResult
    public static func create(
        etcd: EtcdConfiguration, name: String = "state", initial: State, settings: StoreSettings = StoreSettings(), force: Bool = false,
        options: Options = Options()
    ) async throws(StateStoreError) -> StateStore {
        let access = try await BlockingWorkThread.runOnce("StateCoordinator.create") { () throws(StateStoreError) in
            try creating(etcd: etcd, name: name, initial: initial, settings: settings, whenExists: force ? .replace : .fail, options: options)
        }
        return StateStore(writing: access, options: options)
    }

    /// The synchronous form of ``create(etcd:name:initial:settings:force:options:)``.
    @_disfavoredOverload
    @discardableResult
    public static func create(
        etcd: EtcdConfiguration, name: String = "state", initial: State, settings: StoreSettings = StoreSettings(), force: Bool = false,
        options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        StateStore(
            writing: try creating(etcd: etcd, name: name, initial: initial, settings: settings, whenExists: force ? .replace : .fail, options: options),
            options: options)
    }

    private static func creating(
        etcd: EtcdConfiguration, name: String, initial: @autoclosure () -> State, settings: StoreSettings,
        whenExists: EtcdStoreCreation.WhenExists, options: Options
    ) throws(StateStoreError) -> EtcdStoreAccess {
        let access = try EtcdStoreAccess(etcd, name: name)
        if whenExists == .keep, try access.readState() != nil { return access }
        try EtcdStoreCreation.check(settings, access)
        let stateBytes = try StateEncoding.encode(initial(), limit: settings.maximumStateBytes)
        try EtcdStoreCreation(access: access, settings: settings, label: options.label).run(stateBytes: stateBytes, whenExists: whenExists)
        return access
    }
}

extension ReadOnlyStateStore {
    /// Opens an existing store on etcd for reading (<doc:RunningOnEtcd>). Creates nothing; with
    /// etcd users and roles, a read-only role on the store's keys is enough.
    public convenience init(etcd: EtcdConfiguration, name: String = "state", options: Options = Options()) async throws(StateStoreError) {
        let access = try await BlockingWorkThread.runOnce("StateCoordinator.open") { () throws(StateStoreError) in
            try EtcdStoreAccess.open(etcd, name: name, options: options, forWriting: false)
        }
        self.init(etcd: access, options: options, backend: EtcdBackend<State>(access: access, options: options))
    }

    /// The synchronous form of ``init(etcd:name:options:)``.
    @_disfavoredOverload
    public convenience init(etcd: EtcdConfiguration, name: String = "state", options: Options = Options()) throws(StateStoreError) {
        let access = try EtcdStoreAccess.open(etcd, name: name, options: options, forWriting: false)
        self.init(etcd: access, options: options, backend: EtcdBackend<State>(access: access, options: options))
    }
}

extension EtcdStoreAccess {
    /// The access to a store's keys on a new client of the cluster.
    init(_ configuration: EtcdConfiguration, name: String) throws(StateStoreError) {
        self.init(client: try EtcdClient(configuration), keys: try EtcdStoreKeys(prefix: configuration.prefix, name: name))
    }

    /// The access to an existing store: its state key must exist (it is not verified here: a
    /// damaged store is opened, so that `verify` can say what is wrong and `init --force` replace it).
    static func open(_ configuration: EtcdConfiguration, name: String, options: StateStoreOptions, forWriting: Bool) throws(StateStoreError) -> EtcdStoreAccess {
        if forWriting { try WriterIdentity.validate(label: options.label) }
        var access = try EtcdStoreAccess(configuration, name: name)
        access.logger = options.logger
        guard try access.readState() != nil else { throw EtcdStoreLocation.noStore(access) }
        return access
    }
}
