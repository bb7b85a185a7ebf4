import ArgumentParser
import StateCoordinator

struct Patch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply an RFC 7396 JSON merge patch from FILE or stdin.",
        discussion: """
            Members merge recursively, null removes a member, and a patch that is not an object replaces the state.

            Example: statectl patch changes.json
            Example: echo '{"risk": {"max_position": 250}, "halt": null}' | statectl patch
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Argument(help: "The patch file, or - for stdin (default).") var file: String?

    func run() async throws {
        let store = try await global.openStore()
        let patch = try Input.document(from: file, limit: try await store.read().settings.maximumStateBytes)
        try await store.commitAndPrint(mutation) { $0 = $0.merging(patch: patch) }
    }
}
