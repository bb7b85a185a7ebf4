import ArgumentParser
import Foundation
import StateCoordinator

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the store: state {} at version 0, or imported from a plain JSON file.",
        discussion: """
            Refuses to touch an existing store without --force. --force is the recovery path for a corrupt \
            store: it gets a new identity and its numbering continues above the last known version.

            Example: statectl --dir /srv/bot init --from trading_state.json --keep-history 20
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Import this plain JSON file as the first state.", valueName: "file")) var from: String?
    @Option(help: ArgumentHelp("Octal mode of the new files.", valueName: "octal")) var mode = "0640"
    @Option(help: ArgumentHelp("Past versions to keep (0: history off).", valueName: "n")) var keepHistory = 0
    @Option(help: ArgumentHelp("Largest state in bytes.", valueName: "bytes")) var maxSize = StoreSettings.defaultMaximumStateBytes
    @Flag(help: "Re-create over an existing store (recovery).") var force = false
    @Option(help: ArgumentHelp("Give the store this JSON Schema from the start (see statectl schema); the first state must match it.", valueName: "file"))
    var schema: String?
    @Flag(help: "Print the new version's metadata instead of its number.") var json = false
    @OptionGroup var acknowledgement: AcknowledgementOptions

    func validate() throws {
        guard let bits = UInt32(mode, radix: 8), bits <= 0o777 else {
            throw ValidationError("--mode must be octal permission bits such as 0640, not \(mode).")
        }
        guard keepHistory >= 0 else { throw ValidationError("--keep-history must be 0 or more.") }
        guard maxSize > 0 else { throw ValidationError("--max-size must be positive.") }
    }

    func run() async throws {
        // Read and checked before anything is created: the first state is checked against it.
        let schema = try self.schema.map { try JSONSchema(try Input.document(from: $0, limit: 1 << 20)) }
        let settings = StoreSettings(keepHistory: keepHistory, maximumStateBytes: maxSize, fileMode: UInt32(mode, radix: 8)!, schema: schema)
        let store: StateStore<JSONValue>
        if let from {
            // A missing input file is not a missing store (exit 6): it is an ordinary error.
            guard FileManager.default.isReadableFile(atPath: from) else {
                throw CLIFailure(.failure, "cannot read \(from); nothing was created.")
            }
            store = try await StateStore<JSONValue>.importPlainJSON(
                from: from, directory: global.directory, name: global.name, settings: settings, force: force,
                options: global.storeOptions)
        } else {
            store = try await StateStore<JSONValue>.create(
                directory: global.directory, name: global.name, settings: settings, force: force, options: global.storeOptions)
        }
        try await store.printCommitted(try await store.read(), json: json, acknowledgement: acknowledgement)
    }
}
