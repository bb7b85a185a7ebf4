import ArgumentParser
import StateCoordinator

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a version's state (the current one or a kept one), as get prints it.",
        discussion: "Example: statectl show 41")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The version.") var version: UInt64

    func run() async throws {
        Output.line(try await global.openReadOnly().snapshot(atVersion: version).state.prettyJSON)
    }
}
