import ArgumentParser
import StateCoordinator

/// Options of every command that commits a version.
struct MutationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Commit only if the store is at this version (else exit 3).", valueName: "n"))
    var expectVersion: UInt64?

    @Flag(help: "Print the committed version's metadata (as get --meta) instead of its number; with --await-ack, and the acknowledgement report.")
    var json = false

    @OptionGroup var acknowledgement: AcknowledgementOptions
}

extension StateStore where State == JSONValue {
    /// Commits `change` (optionally as compare-and-swap) and prints the result as every mutating
    /// command does.
    func commitAndPrint(
        _ options: MutationOptions, _ change: @escaping @Sendable (inout JSONValue) throws -> Void
    ) async throws {
        let snapshot = try await update(expecting: options.expectVersion, change)
        try await printCommitted(snapshot, json: options.json, acknowledgement: options.acknowledgement)
    }
}
