import ArgumentParser
import Foundation
import StateCoordinator

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the store: state {} at version 0, or imported from a plain JSON file.",
        discussion: """
            Refuses to touch an existing store without --force. --force is the recovery path for a corrupt \
            store: it gets a new identity and its numbering continues above the last known version.

            A bot's own file in the store's directory is imported in place, under its own name unless --name \
            or $STATECTL_NAME says otherwise: trading_state.json becomes the store trading_state, its content \
            is kept as trading_state.plain.json, and an old bot's next plain write over trading_state.json is \
            reported (statectl status, verify) as a foreign overwrite. Stop the bot first.

            Example: statectl --dir /srv/bot init --from trading_state.json --keep-history 20
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Import this plain JSON file as the first state.", valueName: "file")) var from: String?
    @Option(help: ArgumentHelp("Octal mode of the new files (default 0640; a bot's file imported in place keeps its own).", valueName: "octal"))
    var mode: String?
    @Option(help: ArgumentHelp("Past versions to keep (0: history off).", valueName: "n")) var keepHistory = 0
    @Option(
        help: ArgumentHelp(
            "Also keep every version committed within this time (90s, 15m, 24h, 7d); with --keep-history, a version stays while either keeps it.",
            valueName: "age"))
    var keepHistoryFor: String?
    @Option(help: ArgumentHelp("Largest state in bytes.", valueName: "bytes")) var maxSize = StoreSettings.defaultMaximumStateBytes
    @Option(
        help: ArgumentHelp(
            "Count only the registered readers of these users (names or uids, comma-separated; see statectl readers --set-users).",
            valueName: "user,…"))
    var readerUsers: String?
    @Flag(help: "Re-create over an existing store (recovery).") var force = false
    @Option(help: ArgumentHelp("Give the store this JSON Schema from the start (see statectl schema); the first state must match it.", valueName: "file"))
    var schema: String?
    @Flag(help: "Print the new version's metadata instead of its number.") var json = false
    @OptionGroup var acknowledgement: AcknowledgementOptions

    func validate() throws {
        if let mode, !(UInt32(mode, radix: 8).map { $0 <= 0o777 } ?? false) {
            throw ValidationError("--mode must be octal permission bits such as 0640, not \(mode).")
        }
        guard keepHistory >= 0 else { throw ValidationError("--keep-history must be 0 or more.") }
        if let keepHistoryFor, (TimeArgument.duration(keepHistoryFor) ?? 0) < 1 {
            throw ValidationError("--keep-history-for takes an age such as 90s, 15m, 24h or 7d, not '\(keepHistoryFor)'.")
        }
        guard maxSize > 0 else { throw ValidationError("--max-size must be positive.") }
        if let readerUsers { _ = try Readers.uids(readerUsers) }
    }

    func run() async throws {
        // Read and checked before anything is created: the first state is checked against it.
        let schema = try self.schema.map { try JSONSchema(try Input.document(from: $0, limit: 1 << 20)) }
        let settings = StoreSettings(
            keepHistory: keepHistory, keepHistoryFor: keepHistoryFor.flatMap(TimeArgument.duration).map { .seconds($0) },
            maximumStateBytes: maxSize, fileMode: fileMode, schema: schema,
            readerUsers: try readerUsers.map { Array(Set(try Readers.uids($0))).sorted() })
        let store: StateStore<JSONValue>
        if let etcd = try global.etcdConfiguration() {
            // On etcd a file is uploaded as the first state: there is no directory to import in place.
            let initial = try from.map { try Input.document(from: $0, limit: settings.maximumStateBytes) } ?? .object([:])
            store = try await StateStore<JSONValue>.create(
                etcd: etcd, name: global.storeName, initial: initial, settings: settings, force: force, options: global.storeOptions)
        } else if let from {
            let name = global.name ?? global.namedInEnvironment ?? ownName(of: from) ?? global.storeName
            store = try await importing(from, name: name, settings: settings)
            if name == ownName(of: from) {
                Output.note("imported \(from) in place as the store \"\(name)\"; its content is kept as \(global.directory)/\(name).plain.json")
            }
        } else {
            store = try await StateStore<JSONValue>.create(
                directory: global.directory, name: global.storeName, settings: settings, force: force, options: global.storeOptions)
        }
        try await store.printCommitted(try await store.read(), json: json, acknowledgement: acknowledgement)
    }

    /// --mode, else the mode of a bot's file imported in place (a file only its owner could read
    /// must not become group-readable by its import), else 0640.
    private var fileMode: UInt32 {
        if let mode { return UInt32(mode, radix: 8)! }
        if let from, let own = ownName(of: from), (global.name ?? global.namedInEnvironment ?? own) == own,
            let bits = (try? FileManager.default.attributesOfItem(atPath: from))?[.posixPermissions] as? NSNumber
        {
            return bits.uint32Value & 0o777
        }
        return StoreSettings.defaultFileMode
    }

    /// Imports `file`; a file that cannot be read is an ordinary error (exit 1) that says why, not
    /// a missing store (exit 6).
    private func importing(_ file: String, name: String, settings: StoreSettings) async throws -> StateStore<JSONValue> {
        let result: Result<StateStore<JSONValue>, StateStoreError>
        do {
            result = .success(
                try await StateStore<JSONValue>.importPlainJSON(
                    from: file, directory: global.directory, name: name, settings: settings, force: force, options: global.storeOptions))
        } catch {
            result = .failure(error)
        }
        if case .failure(let error) = result, error.path == file, let errno = error.errno {
            throw CLIFailure(.failure, "cannot read \(file): \(errno); nothing was created.")
        }
        return try result.get()
    }

    /// `NAME` when `file` is `NAME.json` in the store's directory (the same directory, however
    /// named) and `NAME` is a valid store name: a bot's own file, imported where it lies.
    private func ownName(of file: String) -> String? {
        let url = URL(fileURLWithPath: file)
        guard url.pathExtension == "json" else { return nil }
        let name = url.deletingPathExtension().lastPathComponent
        guard name.utf8.allSatisfy({ $0.isStoreNameByte }), !name.isEmpty else { return nil }
        let fileDirectory = url.deletingLastPathComponent().resolvingSymlinksInPath().standardizedFileURL.path
        let storeDirectory = URL(fileURLWithPath: global.directory).resolvingSymlinksInPath().standardizedFileURL.path
        return fileDirectory == storeDirectory ? name : nil
    }
}

extension UInt8 {
    /// A letter, digit, `_` or `-`: the bytes a store name may hold.
    fileprivate var isStoreNameByte: Bool {
        (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z")) || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z"))
            || (self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9")) || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}
