import ArgumentParser
import Foundation
import StateCoordinator

/// The admin CLI: inspect and control a StateCoordinator store.
@main
struct Statectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statectl",
        abstract: "Inspect and control a StateCoordinator store shared by several processes.",
        discussion: """
            POINTER is an RFC 6901 JSON Pointer ("/risk/max_position"; "" is the whole document; ~0 and ~1 \
            escape ~ and /; /arr/- is the position after the last element). VALUE is a JSON text (42, true, \
            '"AAPL"', '{"a":1}'). Mutating commands print the new version alone on one line (--json: the \
            same object as get --meta). Results go to stdout, diagnostics to stderr, one line each.

            EXIT CODES:
              0  ok
              1  other errors: invalid JSON or non-UTF-8 input, size limit,
                 permission denied, incr on a non-number or overflow,
                 init over an existing store without --force
              2  usage: unknown or missing arguments, malformed pointer,
                 a VALUE that is not JSON
              3  version conflict (--expect-version, edit); gives the current version
              4  lock timeout; names the holder's pid and command
              5  state corrupt or unverifiable (plain JSON: says how to import it)
              6  not found: no store, a pointer target or parent that does not
                 exist, a version no longer kept
              7  watch deadline passed
              8  committed, durability unknown: the rename or the directory fsync
                 reported an error after the new version took effect; it is visible
                 but may not survive a power loss. Do not retry (an incr would
                 apply twice)
              9  commit outcome unknown: read the current version before retrying
             10  committed, but --await-ack was not satisfied: a reader had not
                 applied the version when --ack-timeout passed, rejected it, or
                 no live reader had a label named; stderr names each one. Do not
                 commit again
             11  refused by the store's schema (statectl schema get): one line names
                 the pointer and the rule; nothing was committed
             12  a store on etcd: no member answered within --etcd-timeout (or the
                 cluster had no leader); stderr names each endpoint tried and why

            The store's directory is --dir, else $STATECTL_DIR, else the current directory; its name is --name,
            else $STATECTL_NAME, else state. With --etcd URL[,URL…] (or $STATECTL_ETCD) the store is on that
            etcd cluster instead, under --etcd-prefix (default /statecoord/v1): every command works the same.
            """,
        version: "1.0.0",
        subcommands: [
            Init.self, Get.self, SetValue.self, Delete.self, Incr.self, Patch.self, Put.self, Edit.self,
            Watch.self, Readers.self, Status.self, Schema.self, History.self, Show.self, Diff.self, Rollback.self, Recover.self, Verify.self, Mirror.self,
        ])

    /// Runs the command, mapping every failure to one stderr line and the documented exit code.
    static func main() async {
        if let problem = RawArguments.firstInvalidUTF8() {
            CLIFailure.report(CLIFailure(.failure, problem))
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let word = GlobalOptions.subcommandWord(arguments), !subcommandNames.contains(word) {
            let guess = subcommandNames.min { editDistance($0, word) < editDistance($1, word) }
            let suggestion = guess.flatMap { editDistance($0, word) <= 2 ? " Did you mean '\($0)'?" : nil } ?? ""
            FileHandle.standardError.write(
                Data("statectl: unknown subcommand '\(word)'.\(suggestion) 'statectl --help' lists them.\n".utf8))
            Foundation.exit(CLIFailure.Code.usage.rawValue)
        }
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(GlobalOptions.movingLeadingOptions(arguments))
        } catch {
            exitForParsingError(error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
            Foundation.exit(0)
        } catch {
            // Help, version and completion requests reach here as ArgumentParser errors.
            guard let failure = CLIFailure(known: error) else { exitForParsingError(error) }
            CLIFailure.report(failure)
        }
    }

    private static var subcommandNames: [String] {
        configuration.subcommands.map { $0._commandName } + ["help"]
    }

    /// Levenshtein distance, for "did you mean".
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    private static func exitForParsingError(_ error: any Error) -> Never {
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            print(message)
            Foundation.exit(0)
        }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(CLIFailure.Code.usage.rawValue)
    }
}
