import ArgumentParser
import Foundation
import StateCoordinator

/// Options every subcommand accepts, before or after the subcommand's name.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The store's directory (default: $STATECTL_DIR, else the current directory).", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("The store's name (default: $STATECTL_NAME, else state).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Seconds to wait for the writer lock.", valueName: "seconds"))
    var lockTimeout: Double = 10

    @Option(help: ArgumentHelp("Recorded as the writer's label.", valueName: "label"))
    var label = "statectl"

    @Option(help: ArgumentHelp("full, no-dir-sync or none.", valueName: "level"))
    var durability: Durability = .full

    @Flag(help: "Allow writing a store on a network file system (NFS, SMB/CIFS).")
    var allowNetworkFs = false

    /// The longest --lock-timeout accepted: a day.
    static let longestLockTimeout: Double = 24 * 3600

    func validate() throws {
        guard lockTimeout >= 0, lockTimeout <= Self.longestLockTimeout else {
            throw ValidationError("--lock-timeout must be a number of seconds from 0 to \(Int(Self.longestLockTimeout)) (a day).")
        }
    }

    var directory: String {
        dir ?? ProcessInfo.processInfo.environment["STATECTL_DIR"] ?? FileManager.default.currentDirectoryPath
    }

    /// --name, else $STATECTL_NAME, else `state`.
    var storeName: String { name ?? namedInEnvironment ?? "state" }

    /// $STATECTL_NAME, when set and not empty.
    var namedInEnvironment: String? {
        ProcessInfo.processInfo.environment["STATECTL_NAME"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var storeOptions: StateStoreOptions {
        StateStoreOptions(
            lockTimeout: .milliseconds(Int64((lockTimeout * 1000).rounded(.up))), durability: durability, label: label,
            allowNetworkFileSystem: allowNetworkFs)
    }

    /// Opens the store for a command that writes.
    func openStore() async throws -> StateStore<JSONValue> {
        try await StateStore<JSONValue>(directory: directory, name: storeName, options: storeOptions)
    }

    /// Opens the store for a command that only reads: it needs no lockfile, and cannot write.
    func openReadOnly() async throws -> ReadOnlyStateStore<JSONValue> {
        try await ReadOnlyStateStore<JSONValue>(directory: directory, name: storeName, options: storeOptions)
    }
}

extension GlobalOptions {
    /// Options taking a value, and flags, that may come before the subcommand's name.
    private static let valued: Set<String> = ["--dir", "--name", "--lock-timeout", "--label", "--durability"]
    private static let flags: Set<String> = ["--allow-network-fs"]
    /// Subcommands that are groups, with their subcommands.
    private static let nestedSubcommands: [String: Set<String>] = ["schema": ["get", "set", "clear"]]

    /// The word in the subcommand's place once leading global options are skipped (nil when
    /// there is none, or it is an option such as `--help`).
    static func subcommandWord(_ arguments: [String]) -> String? {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if flags.contains(argument) || (valued.contains(name) && argument.contains("=")) {
                index += 1
            } else if valued.contains(argument) {
                index += 2
            } else {
                return argument.hasPrefix("-") ? nil : argument
            }
        }
        return nil
    }

    /// `statectl --dir D get /x` → `statectl get --dir D /x`: global options given before the
    /// subcommand are moved just after it, where the subcommand's option group parses them.
    static func movingLeadingOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if flags.contains(argument) || (valued.contains(name) && argument.contains("=")) {
                leading.append(argument)
                index += 1
            } else if valued.contains(argument), index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count, !arguments[index].hasPrefix("-") else { return arguments }
        // A command group (`schema set`): the options go after the whole command path.
        var path = [arguments[index]]
        if let nested = nestedSubcommands[arguments[index]], index + 1 < arguments.count, nested.contains(arguments[index + 1]) {
            path.append(arguments[index + 1])
        }
        return path + leading + arguments[(index + path.count)...]
    }
}

extension Durability: ExpressibleByArgument {}
