import Foundation

/// What every store offers: reading, history, verification and watching. You hold one of its
/// two kinds: a ``StateStore``, which can also commit, or a ``ReadOnlyStateStore``, which has no
/// writing method at all. Take a `ReadableStateStore` where either will do.
///
/// Every method that touches the disk has an `async` form, which runs on a thread of the
/// store's own, never on Swift's cooperative pool, and a synchronous form of the same name for
/// scripts and threads you own (the compiler picks the `async` one in async code).
public class ReadableStateStore<State: Codable & Sendable>: @unchecked Sendable {
    // @unchecked: the class is not final (its two kinds subclass it), and all its stored
    // properties are immutable and Sendable.

    /// The directory holding the store's files; for a store on etcd, its keys' prefix (`PREFIX/NAME`).
    public var directory: String {
        switch place {
        case .files(let handle): handle.directory
        case .etcd(let access): String(access.keys.base.dropLast())
        }
    }
    /// The store's name (`NAME` in `NAME.json`, or in `PREFIX/NAME/state` on etcd).
    public var name: String {
        switch place {
        case .files(let handle): handle.files.name
        case .etcd(let access): access.keys.name
        }
    }
    /// How this process uses the store.
    public let options: Options
    /// The path of the state file; for a store on etcd, its state key (`PREFIX/NAME/state`).
    public var stateFilePath: String {
        switch place {
        case .files(let handle): handle.stateFilePath
        case .etcd(let access): access.keys.stateKey
        }
    }
    /// The path of the lockfile; empty for a store on etcd, whose writers serialize through
    /// etcd's transactions instead.
    public var lockFilePath: String { fileHandle.map { $0.path($0.files.lockFile) } ?? "" }
    /// The cluster, for a store on etcd; nil for a store in a directory.
    public var etcd: EtcdConfiguration? {
        if case .etcd(let access) = place { return access.client.configuration }
        return nil
    }

    /// Where the store is.
    let place: StorePlace
    /// Where the versions live (``StoreBackend``): the store's files, or its keys on etcd.
    let backend: any StoreBackend<State>
    /// Runs the blocking work of async callers.
    let io: BlockingWorkThread

    /// The store's files, nil for a store on etcd.
    var fileHandle: StoreHandle? {
        if case .files(let handle) = place { return handle }
        return nil
    }

    /// The store's files, for an operation only a store in a directory has (its lock, its reader
    /// registry, its leftovers).
    ///
    /// - Throws: ``StateStoreError/Code/invalidArgument`` for a store on etcd, naming the operation.
    func filesHandle(for operation: String) throws(StateStoreError) -> StoreHandle {
        switch place {
        case .files(let handle): return handle
        case .etcd(let access): throw StorePlace.notOnEtcd(operation, access)
        }
    }

    /// A store for a handle that was checked already (``StoreHandle/open(directory:name:options:forWriting:)``).
    /// Not public: open a ``StateStore`` or a ``ReadOnlyStateStore``.
    init(handle: StoreHandle, backend: (any StoreBackend<State>)? = nil) {
        self.place = .files(handle)
        self.backend = backend ?? FileBackend<State>(handle: handle)
        self.options = handle.options
        self.io = BlockingWorkThread(name: "StateCoordinator.io.\(handle.files.name)")
    }

    /// A store on etcd whose existence was checked already.
    init(etcd access: EtcdStoreAccess, options: Options, backend: any StoreBackend<State>) {
        self.place = .etcd(access)
        self.backend = backend
        self.options = options
        self.io = BlockingWorkThread(name: "StateCoordinator.io.\(access.keys.name)")
    }

    deinit { io.end() }

    /// Reads the current version without taking any lock: a consistent snapshot however many
    /// writers are committing meanwhile.
    ///
    /// - Throws: `notFound`, `corrupt` (bad checksum, truncated), `unverifiable` (not our format,
    ///   e.g. plain JSON), `symbolicLink`, `tooLarge`, or `badState` when the JSON does not decode
    ///   as `State` (the `DecodingError` is its ``StateStoreError/cause``).
    public func read() async throws(StateStoreError) -> StateSnapshot<State> {
        let backend = backend
        return try await io.run { () throws(StateStoreError) in try backend.readNewest() }
    }

    /// The synchronous form of ``read()``.
    @_disfavoredOverload
    public func read() throws(StateStoreError) -> StateSnapshot<State> {
        try backend.readNewest()
    }

    /// Runs `work` on the store's files, on the store's own thread.
    ///
    /// - Parameter operation: what it does, for the error a store on etcd answers with.
    func offPool<T: Sendable>(
        _ operation: String, _ work: @escaping @Sendable (StoreHandle) throws(StateStoreError) -> T
    ) async throws(StateStoreError) -> T {
        let handle = try filesHandle(for: operation)
        return try await io.run { () throws(StateStoreError) in try work(handle) }
    }
}
