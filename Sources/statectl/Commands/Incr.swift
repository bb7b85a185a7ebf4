import ArgumentParser
import StateCoordinator

struct Incr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add BY (default 1) to the number at POINTER.",
        discussion: """
            Integers add as signed 64-bit integers (overflow is refused), anything else as doubles. A missing \
            member counts as 0 (parents are created); null, booleans, strings and containers are refused.

            Example: statectl incr /fills/AAPL 100
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Argument(help: "RFC 6901 JSON Pointer.") var pointer: String
    @Argument(help: "A JSON number.") var by = "1"

    func run() async throws {
        let path = try Input.pointer(pointer)
        let amount = try Input.value(by)
        switch amount {
        case .int, .double: break
        default: throw CLIFailure(.usage, "BY must be a JSON number, not \(by).")
        }
        try await global.openStore().commitAndPrint(mutation) { state in
            let current = (try? state.value(at: path)) ?? .int(0)
            try state.set(try current.adding(amount), at: path)
        }
    }
}
