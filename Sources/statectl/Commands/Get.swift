import ArgumentParser
import StateCoordinator

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the state, or the value at POINTER, as JSON. Never waits for the lock.",
        discussion: """
            Example: statectl get /risk/max_position
            Example: statectl get --meta
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "RFC 6901 JSON Pointer (default: the whole state).") var pointer = ""
    @Flag(help: "Print the version's metadata: version, committedAt, writer, checksum, size.") var meta = false

    func run() async throws {
        let path = try Input.pointer(pointer)
        let snapshot = try await global.openReadOnly().read()
        Output.line(meta ? Output.meta(snapshot).prettyJSON : try snapshot.state.value(at: path).prettyJSON)
    }
}
