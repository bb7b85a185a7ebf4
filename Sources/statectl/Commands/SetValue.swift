import ArgumentParser
import StateCoordinator

struct SetValue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set the value at POINTER, creating missing parent objects.",
        discussion: """
            An existing array index is replaced; "-" or the array's length appends.

            Example: statectl set /halt true
            Example: statectl set /risk/max_position 250 --expect-version 41
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp(
            "POINTER (RFC 6901) and VALUE, a JSON text: 42, -0.25, true, '\"AAPL\"', '{\"a\":1}'.",
            valueName: "pointer value"))
    var operands: [String] = []

    private var pointer: String { Operands.values(operands)[0] }
    private var value: String { Operands.values(operands)[1] }

    func validate() throws {
        try Operands.validate(operands, count: 2...2, usage: "statectl set POINTER VALUE")
    }

    func run() async throws {
        let path = try Input.pointer(pointer)
        let newValue = try Input.value(value)
        try await global.openStore().commitAndPrint(mutation, .set(path, newValue))
    }
}
