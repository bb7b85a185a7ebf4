import ArgumentParser
import StateCoordinator

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the RFC 6902 JSON Patch that turns V1's state into V2's.",
        discussion: "Example: statectl diff 40 41")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The version to start from.") var v1: UInt64
    @Argument(help: "The version to arrive at.") var v2: UInt64

    func run() async throws {
        let store = try await global.openReadOnly()
        let operations = JSONPatch.difference(
            from: try await store.snapshot(atVersion: v1).state, to: try await store.snapshot(atVersion: v2).state)
        Output.line(Output.patch(operations).prettyJSON)
    }
}
