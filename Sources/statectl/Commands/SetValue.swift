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
    @Argument(help: "RFC 6901 JSON Pointer.") var pointer: String
    @Argument(help: "A JSON text: 42, true, '\"AAPL\"', '{\"a\":1}'.") var value: String

    func run() async throws {
        let path = try Input.pointer(pointer)
        let newValue = try Input.value(value)
        try await global.openStore().commitAndPrint(mutation) { try $0.set(newValue, at: path) }
    }
}
