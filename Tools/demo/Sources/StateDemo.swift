import ArgumentParser

/// The live multi-process demos: the trading scene (the default) and the shared counter.
@main
struct StateDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-demo",
        abstract: "What StateCoordinator is for, played live by real processes.",
        discussion: """
            scene (the default): two Python bots and a Swift bot trade against shared limits while an operator \
            raises a limit, makes a typo the schema refuses, kills a bot mid-commit and halts them all, confirmed by \
            every bot. counter: writer processes increment one counter while a reader shows every version.
            """,
        subcommands: [Scene.self, Counter.self, Writer.self, SwiftBot.self],
        defaultSubcommand: Scene.self)
}
