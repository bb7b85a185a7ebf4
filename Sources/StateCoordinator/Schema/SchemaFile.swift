import Synchronization
import SystemPackage

/// A store's schema file, `NAME.schema-HEX.json`: the schema as compact JSON, named by the
/// SHA-256 of its bytes and never changed once written (a new schema is a new file), so any
/// process may cache it by name. The header's `settings.schema` names the one in force.
struct SchemaFile {
    let handle: StoreHandle

    /// The prefix of a schema file's temp file (the orphan sweep removes those a writer left).
    static func tempPrefix(_ files: StoreFiles) -> String { "." + files.name + ".schema.tmp-" }

    static func isChecksum(_ text: String) -> Bool {
        guard text.hasPrefix(Checksum.prefix) else { return false }
        let hex = text.utf8.dropFirst(Checksum.prefix.utf8.count)
        return hex.count == 64 && hex.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// The file name for a checksum (`sha256:HEX` → `NAME.schema-HEX.json`).
    func name(_ checksum: String) -> String {
        handle.files.name + ".schema-" + checksum.dropFirst(Checksum.prefix.count) + ".json"
    }

    /// Writes the file for `schema` unless it exists already (with the same content, as its
    /// name says), durably: temp file, fsync, rename, directory fsync. Returns its checksum.
    /// Runs under the writer lock, just before the commit that names it.
    func write(_ schema: JSONSchema, directory: FileDescriptor, fileMode: UInt32) throws(StateStoreError) -> String {
        let checksum = schema.checksum
        // Looked for on disk, not in the cache: the file may have been deleted since it was read.
        if (try? handle.calls.fstatat(directory, name(checksum))) != nil, (try? load(checksum, cached: false)) != nil { return checksum }
        try AtomicReplace(calls: handle.calls, directory: directory, directoryPath: handle.directory).replace(
            name(checksum), with: schema.fileBytes, tempPrefix: Self.tempPrefix(handle.files),
            attributes: .init(mode: fileMode, owner: nil), durability: handle.options.durability == .none ? .none : .full)
        Self.cache.withLock { $0[handle.path(name(checksum))] = schema }
        if handle.options.durability != .none, let status = try? handle.calls.fstatat(directory, name(checksum)) {
            Self.durable.withLock { _ = $0.insert(Self.durableKey(handle.path(name(checksum)), status)) }
        }
        return checksum
    }

    /// Process-wide: files never change, so a name read once is known.
    private static let cache = Mutex<[String: JSONSchema]>([:])

    /// The schema files this process has fsynced (or written durably), by path, device and
    /// inode: a file rewritten since (deleted and written again by another process) is new.
    private static let durable = Mutex<Set<String>>([])

    private static func durableKey(_ path: String, _ status: FileStatus) -> String { "\(path)\u{0}\(status.device):\(status.inode)" }

    /// Makes the schema file `checksum` names durable before a commit that names it at a durable
    /// level: it may have been written at durability `none` (by this process or another), and a
    /// power loss would then leave a header naming an empty file. fsyncs it once per process;
    /// the commit's directory fsync makes its name durable.
    func makeDurable(_ checksum: String, directory: FileDescriptor) throws(StateStoreError) {
        let path = handle.path(name(checksum))
        do {
            let status = try handle.calls.fstatat(directory, name(checksum))
            guard !Self.durable.withLock({ $0.contains(Self.durableKey(path, status)) }) else { return }
            let file = OwnedDescriptor(try handle.calls.open(directory, name(checksum), .readExisting), calls: handle.calls)
            try handle.calls.fsync(file.descriptor)
            let synced = try handle.calls.fstat(file.descriptor)
            Self.durable.withLock { _ = $0.insert(Self.durableKey(path, synced)) }
        } catch {
            throw .system(.syncFile, path: path, errno: error)
        }
    }

    /// Forgets every schema read (for tests that alter a file the protocol says never changes).
    static func forgetCache() {
        cache.withLock { $0 = [:] }
        durable.withLock { $0 = [] }
    }

    /// The schema with this checksum, read and checked once per process.
    /// - Throws: `notFound` when the file is missing; `corrupt` when its bytes do not hash to its
    ///   name or it is not a supported schema.
    func load(_ checksum: String, cached: Bool = true) throws(StateStoreError) -> JSONSchema {
        let path = handle.path(name(checksum))
        if cached, let known = Self.cache.withLock({ $0[path] }) { return known }
        let bytes: [UInt8]
        do {
            let file = OwnedDescriptor(try handle.calls.open(SystemCalls.currentDirectory, path, .readExisting), calls: handle.calls)
            bytes = try handle.calls.read(file.descriptor, upTo: StoreSettings.largestMaximumStateBytes)
        } catch .noSuchFileOrDirectory {
            throw StateStoreError(
                .notFound, "The store's schema file \(path) is missing, so no state can be checked against it.",
                hint: "Nothing was committed. Restore the file, or set the schema again (statectl schema set FILE) or clear it (statectl schema clear).",
                path: path)
        } catch {
            throw .system(.readState, path: path, errno: error, stateUnchanged: true)
        }
        let schema = try JSONSchema.stored(
            bytes, named: checksum, what: "The store's schema file \(path)",
            hint: "Nothing was committed. Set the schema again (statectl schema set FILE).", path: path)
        Self.cache.withLock { $0[path] = schema }
        return schema
    }

    /// The error for a state the schema refuses.
    static func refusal(_ violation: SchemaViolation, path: String, what: String = "This state") -> StateStoreError {
        var error = StateStoreError(
            .schemaViolation, "\(violation.description). \(what) does not match the store's schema; nothing was committed.",
            hint: "See the schema with statectl schema get.", path: path)
        error.schemaViolation = violation
        return error
    }
}

extension JSONValue {
    /// Parses encoded state bytes for a schema check.
    static func checked(_ bytes: [UInt8]) throws(StateStoreError) -> JSONValue {
        do { return try JSONValue(parsing: bytes) } catch {
            throw StateStoreError(.badState, "The encoded state is not JSON the schema can check: \(error).", cause: error)
        }
    }
}
