import ArgumentParser
import StateCoordinator

struct Patch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply an RFC 7396 JSON merge patch, or with --json-patch an RFC 6902 JSON Patch, from FILE or stdin.",
        discussion: """
            A merge patch is an object: its members merge recursively and null removes a member. Anything else \
            (an array, a number) is refused, as it would replace the whole state: use put for that.

            A JSON Patch (--json-patch) is an array of add, remove, replace, move, copy and test operations, \
            applied all or nothing: the one that diff and --dry-run print can be applied back. A failing test \
            operation exits 3, as a version conflict does.

            Example: statectl patch changes.json
            Example: echo '{"risk": {"max_position": 250}, "halt": null}' | statectl patch
            Example: statectl diff 40 41 | statectl patch --json-patch
            Example: echo '[{"op": "test", "path": "/halt", "value": false}, {"op": "replace", "path": "/halt", "value": true}]' | statectl patch --json-patch
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Flag(name: .customLong("json-patch"), help: "The input is an RFC 6902 JSON Patch (an array of operations).")
    var jsonPatch = false
    @Argument(help: "The patch file, or - for stdin (default).") var file: String?

    func run() async throws {
        let store = try await global.openStore()
        let patch = try Input.document(from: file, limit: try await store.read().settings.maximumStateBytes)
        if jsonPatch {
            let operations = try JSONPatch.operations(from: patch)
            try await store.commitAndPrint(mutation, .jsonPatch(operations))
        } else {
            guard case .object = patch else {
                throw CLIFailure(
                    .usage,
                    "a merge patch is an object; this is \(patch.kindName), which would replace the whole state. "
                        + "For an RFC 6902 JSON Patch (an array of operations) use patch --json-patch; "
                        + "to replace the state deliberately use put. Nothing was committed.")
            }
            try await store.commitAndPrint(mutation, .mergePatch(patch))
        }
    }
}
