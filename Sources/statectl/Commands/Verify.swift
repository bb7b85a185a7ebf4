import ArgumentParser
import StateCoordinator

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the whole store: format, checksum, lockfile, orphan temp files, history.",
        discussion: """
            Lists every problem found in one run, one per line. Damage (a bad checksum, a missing lockfile, a \
            history entry newer than the current version…) exits 5. Leftovers that writers repair by \
            themselves (a temp file of a writer that died: removed by a writer's first commit, or within a second of \
            a commit; the current version already linked into history, one entry over keepHistory: by the next \
            commit) are printed as "warning: …" and exit 0. Commits landing while it runs are \
            never reported as either. Exits 6 when there is no store.

            Example: statectl verify && echo healthy
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let report: VerificationReport
        if global.etcdEndpoints != nil {
            report = try await global.openReadOnly().verify()
        } else {
            report = try await ReadOnlyStateStore<JSONValue>.verify(directory: global.directory, name: global.storeName, options: global.storeOptions)
        }
        for problem in report.damage { Output.line(problem.description) }
        for leftover in report.leftovers { Output.line("warning: " + leftover.description) }
        guard report.isHealthy else {
            let count = report.damage.count
            throw CLIFailure(.corrupt, "\(count) problem\(count == 1 ? "" : "s") found in \(global.storeDescription).")
        }
        let repaired = report.leftovers.isEmpty ? "" : " (\(report.leftovers.count) leftover\(report.leftovers.count == 1 ? "" : "s") that writers repair by themselves)"
        Output.line("ok: version \(report.currentVersion.map(String.init) ?? "?") verifies" + repaired)
    }
}
