import ArgumentParser
import StateCoordinator

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List kept past versions, newest first: version, commit time, writer.",
        discussion: "Example: statectl history --limit 5 --json")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Show at most this many.", valueName: "n")) var limit: Int?
    @Flag(help: "One JSON object per line.") var json = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more.") }
    }

    func run() async throws {
        let entries = try await global.openReadOnly().history().prefix(limit ?? .max)
        for entry in entries {
            if json {
                let object: JSONValue = [
                    "version": .unsigned(entry.version), "committedAt": .string(Output.timestamp(entry.committedAt)),
                    "writer": Output.writer(entry.writer),
                ]
                Output.line(object.compactJSON)
            } else {
                Output.line("\(entry.version)\t\(Output.timestamp(entry.committedAt))\t\(entry.writer)")
            }
        }
    }
}
