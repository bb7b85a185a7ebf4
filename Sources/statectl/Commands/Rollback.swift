import ArgumentParser
import StateCoordinator

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit a kept version's state as a new version.",
        discussion: "Example: statectl rollback --to 40 --expect-version 41")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Option(help: ArgumentHelp("The kept version to restore.", valueName: "version")) var to: UInt64

    func run() async throws {
        let store = try await global.openStore()
        if mutation.dryRun {
            let kept = try await store.snapshot(atVersion: to).state
            return try await store.dryRun(expecting: mutation.expectVersion) { $0 = kept }
        }
        let snapshot = try await store.rollback(to: to, expecting: mutation.expectVersion)
        try await store.printCommitted(snapshot, json: mutation.json, acknowledgement: mutation.acknowledgement)
    }
}
