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

    /// The directory holding the store's files.
    public var directory: String { handle.directory }
    /// The store's name (`NAME` in `NAME.json`).
    public var name: String { handle.files.name }
    /// How this process uses the store.
    public let options: Options
    /// The path of the state file.
    public var stateFilePath: String { handle.stateFilePath }
    /// The path of the lockfile.
    public var lockFilePath: String { handle.path(handle.files.lockFile) }

    let handle: StoreHandle
    /// Where the versions live (``StoreBackend``): the store's files.
    let backend: any StoreBackend<State>
    /// Runs the blocking work of async callers.
    let io: BlockingWorkThread

    /// A store for a handle that was checked already (``StoreHandle/open(directory:name:options:forWriting:)``).
    /// Not public: open a ``StateStore`` or a ``ReadOnlyStateStore``.
    init(handle: StoreHandle, backend: (any StoreBackend<State>)? = nil) {
        self.handle = handle
        self.backend = backend ?? FileBackend<State>(handle: handle)
        self.options = handle.options
        self.io = BlockingWorkThread(name: "StateCoordinator.io.\(handle.files.name)")
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

    /// Runs `work` on the store's own thread.
    func offPool<T: Sendable>(
        _ work: @escaping @Sendable (StoreHandle) throws(StateStoreError) -> T
    ) async throws(StateStoreError) -> T {
        let handle = handle
        return try await io.run { () throws(StateStoreError) in try work(handle) }
    }
}
