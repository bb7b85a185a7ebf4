/// A store opened for reading only: everything ``StateStore`` offers except the methods that
/// write, which this type does not have, so a process that must never write (a monitoring
/// sidecar running as another user, a dashboard) cannot call them by mistake. It needs no
/// lockfile, and no write permission anywhere.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false; var maxPosition = 100 }
/// let store = try await ReadOnlyStateStore<Risk>(directory: "/srv/bot")
/// let snapshot = try await store.read()
/// print(snapshot.version, snapshot.state.halt)
/// ```
public final class ReadOnlyStateStore<State: Codable & Sendable>: ReadableStateStore<State>, @unchecked Sendable {
    /// Opens an existing store for reading. Creates nothing, and needs no lockfile.
    ///
    /// - Parameters:
    ///   - directory: the directory holding `NAME.json`.
    ///   - name: the store's name (default `state`): letters, digits, `_` and `-`.
    ///   - options: per-process options (the logger; the writing options are unused).
    /// - Throws: `notFound` when there is no state file; `unverifiable` when it is a plain JSON
    ///   file, with the command that imports it.
    public convenience init(directory: String, name: String = "state", options: Options = Options()) async throws(StateStoreError) {
        self.init(handle: try await StoreHandle.open(directory: directory, name: name, options: options, forWriting: false))
    }

    /// The synchronous form of ``init(directory:name:options:)``.
    @_disfavoredOverload
    public convenience init(directory: String, name: String = "state", options: Options = Options()) throws(StateStoreError) {
        self.init(handle: try StoreHandle.open(directory: directory, name: name, options: options, forWriting: false))
    }
}
