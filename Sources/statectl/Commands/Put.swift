import ArgumentParser
import StateCoordinator

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the whole state with the JSON in FILE or stdin.",
        discussion: "Example: statectl put new_state.json --expect-version 41")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Argument(help: "The new state's file, or - for stdin (default).") var file: String?

    func run() async throws {
        let store = try await global.openStore()
        let state = try Input.document(from: file, limit: try await store.read().settings.maximumStateBytes)
        try await store.commitAndPrint(mutation, .replace(state))
    }
}
