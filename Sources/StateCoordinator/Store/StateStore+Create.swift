#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import SystemPackage

extension StateStore {
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
        in directory: String, name: String = "state", initial: State, settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        try settings.validate()
        let stateBytes = try StateEncoding.encode(initial, limit: settings.maximumStateBytes)
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options)
        try StoreCreation(handle: handle, settings: settings).run(stateBytes: stateBytes, force: force)
        return try StateStore(directory: directory, name: name, options: options)
    }

    /// Imports a plain JSON file (such as the `trading_state.json` the original Python bot wrote
    /// with `tempfile.mkstemp` + `os.replace`) into a new store as version 0. The file is only read.
    ///
    /// - Throws: `badState` when the file is not valid JSON (the message gives line and column) or
    ///   does not decode as `State`; `tooLarge` above the size limit; and what ``create(in:name:initial:settings:force:options:)`` throws.
    @discardableResult
    public static func importPlainJSON(
        from file: String, into directory: String, name: String = "state", settings: StoreSettings = StoreSettings(),
        force: Bool = false, options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        let calls = options.systemCalls
        let bytes: [UInt8]
        do {
            let fd = OwnedDescriptor(try calls.open(AT_FDCWD, file, O_RDONLY | O_CLOEXEC, 0), calls: calls)
            bytes = try calls.read(fd.rawValue, upTo: settings.maximumStateBytes + 1)
        } catch {
            throw .system(.readState, path: file, errno: error)
        }
        guard bytes.count <= settings.maximumStateBytes else {
            throw StateStoreError(
                .tooLarge, "\(file) is larger than the store's limit of \(settings.maximumStateBytes) bytes.",
                hint: "Create the store with a larger maximumStateBytes.", path: file)
        }
        let initial = try StateEncoding.decode(State.self, from: bytes, path: file)
        return try create(in: directory, name: name, initial: initial, settings: settings, force: force, options: options)
    }
}

extension StateStore where State == JSONValue {
    /// Creates an untyped store whose state starts as `{}`.
    @discardableResult
    public static func create(
        in directory: String, name: String = "state", settings: StoreSettings = StoreSettings(), force: Bool = false,
        options: Options = Options()
    ) throws(StateStoreError) -> StateStore {
        try create(in: directory, name: name, initial: .object([:]), settings: settings, force: force, options: options)
    }
}
