import ArgumentParser
import Foundation
import StateCoordinator

struct Schema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, set or clear the store's JSON Schema, which every writer checks each new state against.",
        discussion: """
            Supported (JSON Schema 2020-12): type, enum, const, properties, required, additionalProperties, items, \
            minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, maxItems, boolean \
            schemas, and the annotations $schema, $comment, title, description, default, examples. A schema using \
            anything else is refused. A state the schema refuses is never committed (exit 11).

            Example: statectl schema set risk.schema.json
            Example: statectl schema get | jq .properties.halt
            """,
        subcommands: [Get.self, Change.self, Clear.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the schema in force (exit 6 when the store has none).",
            discussion: "Example: statectl schema get")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            guard let schema = try await global.openReadOnly().schema() else {
                throw CLIFailure(.notFound, "the store has no schema (statectl schema set FILE sets one).")
            }
            Output.line(schema.value.prettyJSON)
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set the schema from FILE or stdin, as a new version; refused if the current state breaks it.",
            discussion: "Example: statectl schema set risk.schema.json")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var mutation: MutationOptions
        @Argument(help: "The schema's file, or - for stdin (default).") var file: String?

        func run() async throws {
            let store = try await global.openStore()
            let schema = try JSONSchema(try Input.document(from: file, limit: 1 << 20))
            try await Schema.commit(schema, to: store, mutation)
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the schema, as a new version: states are no longer checked.", discussion: "Example: statectl schema clear")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var mutation: MutationOptions

        func run() async throws {
            try await Schema.commit(nil, to: try await global.openStore(), mutation)
        }
    }

    static func commit(_ schema: JSONSchema?, to store: StateStore<JSONValue>, _ mutation: MutationOptions) async throws {
        if mutation.dryRun { return try await store.dryRun(expecting: mutation.expectVersion, schema: .some(schema)) { _ in } }
        let snapshot: StateSnapshot<JSONValue>
        do { snapshot = try await store.setSchema(schema, expecting: mutation.expectVersion) } catch let error as StateStoreError where error.code == .schemaViolation {
            throw CLIFailure(
                .schemaViolation,
                "\(error.schemaViolation?.description ?? error.message): the current state breaks this schema; nothing was changed. Fix the state first.")
        }
        try await store.printCommitted(snapshot, json: mutation.json, acknowledgement: mutation.acknowledgement)
    }
}
