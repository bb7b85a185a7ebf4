import ArgumentParser
import StateCoordinator

struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repair a store whose state file a foreign plain-JSON write replaced, or that is damaged.",
        discussion: """
            --adopt makes the plain JSON content (an old bot's os.replace) the next version; --restore brings \
            back the newest kept version that verifies. Either keeps the store's identity, settings and schema, \
            numbers on from the version replaced, checks the schema, and first links the replaced file beside \
            the store as NAME.replaced-STAMP.json. Prints the new version (--json: its metadata) and one line \
            on stderr saying what was done; --dry-run prints that line on stdout and changes nothing.

            Example: statectl recover --adopt --dry-run
            Example: statectl recover --restore
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Make the foreign plain JSON content the next version.") var adopt = false
    @Flag(help: "Bring back the newest kept version as the next version.") var restore = false
    @Flag(help: "Say what would be done; change nothing.") var dryRun = false
    @Flag(help: "Print the new version's metadata instead of its number.") var json = false

    func validate() throws {
        guard adopt != restore else { throw ValidationError("Give exactly one of --adopt and --restore.") }
    }

    func run() async throws {
        if global.etcdEndpoints != nil {
            throw CLIFailure(
                .usage,
                "recover repairs a store's files in a directory; a store on etcd has none. Re-create it with statectl --etcd URL init --force (numbered on above its last version); nothing was changed.")
        }
        let outcome = try await StateStore<JSONValue>.recover(
            directory: global.directory, name: global.storeName, adopt ? .adopt : .restore, dryRun: dryRun, options: global.storeOptions)
        if dryRun { return Output.line(outcome.description) }
        Output.note(outcome.description)
        let store = try await global.openReadOnly()
        Output.committed(try await store.read(), json: json)
    }
}
