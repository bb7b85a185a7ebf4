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
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("POINTER (RFC 6901) and BY, a JSON number (default 1; -3 works as it is).", valueName: "pointer by"))
    var operands: [String] = []

    private var pointer: String { Operands.values(operands)[0] }
    private var by: String { Operands.values(operands).count > 1 ? Operands.values(operands)[1] : "1" }

    func validate() throws {
        try Operands.validate(operands, count: 1...2, usage: "statectl incr POINTER [BY]")
    }

    func run() async throws {
        let path = try Input.pointer(pointer)
        let amount = try Input.value(by)
        switch amount {
        case .int, .double: break
        default: throw CLIFailure(.usage, "BY must be a JSON number, not \(by).")
        }
        try await global.openStore().commitAndPrint(mutation, .increment(path, by: amount))
    }
}
