import ArgumentParser
import StateCoordinator

/// Options of every command that commits a version.
struct MutationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Commit only if the store is at this version (else exit 3).", valueName: "n"))
    var expectVersion: UInt64?

    @Flag(help: "Print the committed version's metadata (as get --meta) instead of its number; with --await-ack, and the acknowledgement report.")
    var json = false

    @Flag(help: "Apply the change to the current state and check it against the schema, print the RFC 6902 diff, and commit nothing (exit 0 if it would commit, else the refusal's code).")
    var dryRun = false

    @OptionGroup var acknowledgement: AcknowledgementOptions

    func validate() throws {
        if dryRun && acknowledgement.awaitAck != nil { throw ValidationError("--dry-run commits nothing, so there is nothing for --await-ack to wait for.") }
    }
}

extension StateStore where State == JSONValue {
    /// Commits `change` (optionally as compare-and-swap) and prints the result as every mutating
    /// command does.
    func commitAndPrint(
        _ options: MutationOptions, _ change: @escaping @Sendable (inout JSONValue) throws -> Void
    ) async throws {
        if options.dryRun { return try await dryRun(expecting: options.expectVersion, change) }
        let snapshot = try await update(expecting: options.expectVersion, change)
        try await printCommitted(snapshot, json: options.json, acknowledgement: options.acknowledgement)
    }

    /// Commits a declarative mutation (combined with other writers' while another process holds
    /// the lock) and prints the result as every mutating command does.
    func commitAndPrint(_ options: MutationOptions, _ mutation: StateMutation) async throws {
        if options.dryRun { return try await dryRun(expecting: options.expectVersion) { try mutation.apply(to: &$0) } }
        let snapshot = try await apply(mutation, expecting: options.expectVersion)
        try await printCommitted(snapshot, json: options.json, acknowledgement: options.acknowledgement)
    }
}

extension ReadableStateStore where State == JSONValue {
    /// `--dry-run`: applies `change` to the current state, checks the result against the schema
    /// (`schema`: the one the change would set, when it sets one), and prints the RFC 6902 diff
    /// from the current state. Commits nothing; throws what the commit would have refused with.
    func dryRun(
        expecting expectedVersion: UInt64?, schema replacement: JSONSchema?? = nil,
        _ change: @Sendable (inout JSONValue) throws -> Void
    ) async throws {
        let current = try await read()
        if let expectedVersion, expectedVersion != current.version {
            var error = StateStoreError(
                .conflict, "Expected version \(expectedVersion) of \(stateFilePath), but it is at version \(current.version).",
                hint: "Nothing was committed (a dry run never commits).", currentVersion: current.version)
            error.currentVersion = current.version
            throw error
        }
        var state = current.state
        try change(&state)
        let size = (try? state.jsonText(pretty: false))?.utf8.count ?? 0
        if size + 1 > current.settings.maximumStateBytes {
            throw StateStoreError(
                .tooLarge, "The new state would be \(size + 1) bytes, over the store's limit of \(current.settings.maximumStateBytes); nothing was committed (dry run).",
                path: stateFilePath)
        }
        let schema: JSONSchema?
        if let replacement { schema = replacement } else { schema = try await self.schema() }
        if let violation = schema?.firstViolation(of: state) {
            var error = StateStoreError(
                .schemaViolation, "\(violation.description). This state does not match the store's schema; nothing was committed (dry run).",
                hint: "See the schema with statectl schema get.", path: stateFilePath)
            error.schemaViolation = violation
            throw error
        }
        Output.line(Output.patch(JSONPatch.difference(from: current.state, to: state)).prettyJSON)
    }
}
