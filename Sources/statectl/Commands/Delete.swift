import ArgumentParser
import StateCoordinator

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the object member or array element at POINTER.",
        discussion: "Example: statectl delete /positions/AAPL")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var mutation: MutationOptions
    @Argument(help: "RFC 6901 JSON Pointer.") var pointer: String

    func run() async throws {
        let path = try Input.pointer(pointer)
        try await global.openStore().commitAndPrint(mutation, .delete(path))
    }
}
