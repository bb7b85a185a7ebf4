#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import SystemPackage

/// One piece of JSON state shared safely by several processes on one host.
///
/// Writers serialize through `flock(2)` on `NAME.lock` and replace `NAME.json` atomically;
/// readers never lock. Every version is verifiable (checksum over the exact state bytes) and
/// numbered (+1 per commit). See the "On-disk protocol" article for the layout.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false; var maxPosition = 100 }
/// let store = try StateStore<Risk>.create(in: "/srv/bot", initial: Risk())
/// let (snapshot, _) = try await store.update { $0.halt = true }
/// print(snapshot.version, try store.read().state.halt)
/// ```
///
/// Updates from tasks of one process are group-committed on the store's own dispatch queue,
/// never on the cooperative thread pool. The `…Blocking` forms are for scripts and threads you
/// own; do not call them from async code.
public final class StateStore<State: Codable & Sendable>: Sendable {
    /// The directory holding the store's files.
    public var directory: String { handle.directory }
    /// The store's name (`NAME` in `NAME.json`).
    public var name: String { handle.files.name }
    /// How this process uses the store.
    public let options: Options

    let handle: StoreHandle
    let pipeline: CommitPipeline<State>

    /// Opens an existing store. Creates nothing.
    ///
    /// - Parameters:
    ///   - directory: the directory holding `NAME.json` and `NAME.lock`.
    ///   - name: the store's name (default `state`): letters, digits, `_` and `-`.
    ///   - options: per-process options (lock timeout, durability, label, …).
    /// - Throws: `notFound` when the store does not exist, `networkFileSystem` when the directory
    ///   is on NFS or SMB/CIFS and the store is opened for writing without opting in.
    public init(directory: String, name: String = "state", options: Options = Options()) throws(StateStoreError) {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options)
        self.options = options
        self.handle = handle
        let cache = CommitCache<State>()
        self.pipeline = CommitPipeline(label: "StateCoordinator.commit.\(name)") { batch in
            BatchCommit<State>(handle: handle, cache: cache).run(batch)
        }
        try handle.checkExists()
        if !options.readOnly {
            try handle.checkFileSystem(try handle.openDirectory())
        }
    }

    /// The path of the state file.
    public var stateFilePath: String { handle.stateFilePath }
    /// The path of the lockfile.
    public var lockFilePath: String { handle.path(handle.files.lockFile) }

    /// Reads the current version without taking any lock: a consistent snapshot however many
    /// writers are committing meanwhile.
    ///
    /// - Throws: `notFound`, `corrupt` (bad checksum, truncated), `unverifiable` (not our format,
    ///   e.g. plain JSON), `symbolicLink`, `tooLarge`, or `badState` when the JSON does not decode
    ///   as `State`.
    public func read() throws(StateStoreError) -> StateSnapshot<State> {
        try handle.readCurrent().snapshot(as: State.self, path: stateFilePath)
    }
}
