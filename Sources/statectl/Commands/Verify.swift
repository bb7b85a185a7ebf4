import ArgumentParser
import StateCoordinator

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the whole store: format, checksum, lockfile, orphan temp files, history.",
        discussion: """
            Exits 0 only when the store is healthy; otherwise prints every problem found, one per line, and \
            exits 5 (6 when there is no store).

            Example: statectl verify && echo healthy
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let store = try global.openStore(readOnly: true)
        let problems = store.verify()
        guard !problems.isEmpty else {
            Output.line("ok: version \(try store.read().version) verifies")
            return
        }
        for problem in problems { Output.line(problem) }
        throw CLIFailure(.corrupt, "\(problems.count) problem\(problems.count == 1 ? "" : "s") found in \(store.stateFilePath).")
    }
}
