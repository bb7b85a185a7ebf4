import Foundation

/// One piece of JSON state shared safely by several processes on one host: a
/// ``ReadableStateStore`` that can also commit.
///
/// Writers serialize through `flock(2)` on `NAME.lock` and replace `NAME.json` atomically;
/// readers never lock. Every version is verifiable (checksum over the exact state bytes) and
/// numbered (+1 per commit). See <doc:OnDiskProtocol> for the layout and <doc:SafeUpdates> for
/// updates that respect a halt.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false; var maxPosition = 100 }
/// let store = try await StateStore<Risk>.openOrCreate(directory: "/srv/bot", initial: Risk())
/// let snapshot = try await store.update { $0.maxPosition = 250 }
/// print(snapshot.version, try await store.read().state.maxPosition)
/// ```
///
/// Updates from tasks of one process are group-committed on the store's own commit thread,
/// never on the cooperative thread pool.
public final class StateStore<State: Codable & Sendable>: ReadableStateStore<State>, @unchecked Sendable {
    let pipeline: CommitPipeline<State>

    /// Not an override of ``ReadableStateStore``'s: a store does not inherit its read-only opener.
    init(writing handle: StoreHandle) {
        let backend = FileBackend<State>(handle: handle)
        pipeline = CommitPipeline(label: "StateCoordinator.commit.\(handle.files.name)") { batch in backend.commit(batch) }
        super.init(handle: handle, backend: backend)
    }

    /// A writer of a store on etcd whose existence was checked already.
    init(writing access: EtcdStoreAccess, options: Options) {
        let backend = EtcdBackend<State>(access: access, options: options)
        pipeline = CommitPipeline(label: "StateCoordinator.commit.\(access.keys.name)") { batch in backend.commit(batch) }
        super.init(etcd: access, options: options, backend: backend)
    }

    /// Opens an existing store for reading and writing. Creates nothing
    /// (``openOrCreate(directory:name:initial:settings:options:)-3wjdb`` does).
    ///
    /// - Parameters:
    ///   - directory: the directory holding `NAME.json` and `NAME.lock`.
    ///   - name: the store's name (default `state`): letters, digits, `_` and `-`.
    ///   - options: per-process options (lock timeout, durability, label, …).
    /// - Throws: `notFound` when the store or its lockfile does not exist, `networkFileSystem`
    ///   when the directory is on NFS or SMB/CIFS without opting in.
    public convenience init(directory: String, name: String = "state", options: Options = Options()) async throws(StateStoreError) {
        self.init(writing: try await StoreHandle.open(directory: directory, name: name, options: options, forWriting: true))
    }

    /// The synchronous form of ``init(directory:name:options:)``.
    @_disfavoredOverload
    public convenience init(directory: String, name: String = "state", options: Options = Options()) throws(StateStoreError) {
        self.init(writing: try StoreHandle.open(directory: directory, name: name, options: options, forWriting: true))
    }
}
