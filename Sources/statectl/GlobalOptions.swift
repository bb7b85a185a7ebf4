import ArgumentParser
import Foundation
import StateCoordinator
import StateDocuments

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

    @Option(
        help: ArgumentHelp(
            "Use the store on this etcd cluster instead of a directory: members' client URLs, comma-separated (default: $STATECTL_ETCD).",
            valueName: "url[,url…]"))
    var etcd: String?

    @Option(help: ArgumentHelp("The etcd key prefix (default: $STATECTL_ETCD_PREFIX, else /statecoord/v1).", valueName: "prefix"))
    var etcdPrefix: String?

    @Option(help: ArgumentHelp("The CA certificate (PEM) that signed the etcd members' certificates.", valueName: "file"))
    var cacert: String?

    @Option(help: ArgumentHelp("This client's certificate (PEM), for etcd members that require one.", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The key of --cert (PEM).", valueName: "file"))
    var key: String?

    @Option(
        help: ArgumentHelp(
            "The etcd user, as NAME or NAME:PASSWORD (default: $STATECTL_ETCD_USER; the password may come from $STATECTL_ETCD_PASSWORD).",
            valueName: "name[:password]"))
    var user: String?

    @Option(help: ArgumentHelp("Seconds each etcd member gets to answer a request before the next is tried.", valueName: "seconds"))
    var etcdTimeout: Double = 5

    @Option(
        help: ArgumentHelp(
            "Seconds a registered reader's or mirror's etcd lease lives unrenewed: how soon a dead or cut-off one is reported (default: $STATECTL_ETCD_LEASE_TTL, else 5).",
            valueName: "seconds"))
    var leaseTTL: Double?

    /// The longest --lock-timeout accepted: a day.
    static let longestLockTimeout: Double = 24 * 3600

    func validate() throws {
        guard lockTimeout >= 0, lockTimeout <= Self.longestLockTimeout else {
            throw ValidationError("--lock-timeout must be a number of seconds from 0 to \(Int(Self.longestLockTimeout)) (a day).")
        }
        guard etcdTimeout > 0, etcdTimeout <= 3600 else {
            throw ValidationError("--etcd-timeout must be a number of seconds above 0 and at most 3600.")
        }
        // Checked only for a store on etcd: a bad $STATECTL_ETCD_LEASE_TTL fails no command on a directory.
        if etcdEndpoints != nil {
            let from = leaseTTL != nil ? "--lease-ttl" : "$STATECTL_ETCD_LEASE_TTL"
            guard let ttl = try? leaseSeconds(), ttl >= 1, ttl <= 3600 else {
                throw ValidationError("\(from) must be a number of seconds from 1 to 3600.")
            }
        }
        if etcdEndpoints == nil, let option = [("--cacert", cacert), ("--cert", cert), ("--key", key), ("--user", user), ("--etcd-prefix", etcdPrefix), ("--lease-ttl", leaseTTL.map { "\($0)" })].first(where: { $0.1 != nil })?.0 {
            throw ValidationError("\(option) applies to a store on etcd: give --etcd URL (or set STATECTL_ETCD) too.")
        }
        if etcd != nil, dir != nil, !Self.mirroring {
            throw ValidationError("--dir and --etcd name two different stores: give one of them.")
        }
    }

    /// The store as messages name it: its state file, or its state key on etcd.
    var storeDescription: String {
        guard etcdEndpoints != nil else { return "\(directory)/\(storeName).json" }
        return "\(etcdPrefix ?? Self.environment("STATECTL_ETCD_PREFIX") ?? EtcdConfiguration.defaultPrefix)/\(storeName)/state on etcd"
    }

    /// The etcd endpoints, from --etcd or $STATECTL_ETCD; nil for a store in a directory.
    var etcdEndpoints: [String]? {
        // --dir names a store in a directory even when $STATECTL_ETCD is set; --etcd with --dir is refused.
        // (`mirror` takes both: etcd is its source, the directory its destination.)
        guard let list = etcd ?? (dir == nil || Self.mirroring ? Self.environment("STATECTL_ETCD") : nil) else { return nil }
        return EtcdArguments.endpoints(list)
    }

    /// The command is `mirror`, the one that names a store on etcd and a directory at once.
    private static var mirroring: Bool { subcommandWord(Array(CommandLine.arguments.dropFirst())) == "mirror" }

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// --lease-ttl, else $STATECTL_ETCD_LEASE_TTL, else 5.
    private func leaseSeconds() throws -> Double {
        if let leaseTTL { return leaseTTL }
        guard let text = Self.environment("STATECTL_ETCD_LEASE_TTL") else { return 5 }
        guard let value = Double(text), value.isFinite else { throw ValidationError("$STATECTL_ETCD_LEASE_TTL is not a number of seconds: \(text)") }
        return value
    }

    /// The cluster to use, when the store is on etcd.
    func etcdConfiguration() throws -> EtcdConfiguration? {
        guard let endpoints = etcdEndpoints else { return nil }
        let (userName, password) = EtcdArguments.credentials(
            user ?? Self.environment("STATECTL_ETCD_USER"), environmentPassword: Self.environment("STATECTL_ETCD_PASSWORD"))
        var configuration = try EtcdConfiguration(
            endpoints: endpoints, prefix: etcdPrefix ?? Self.environment("STATECTL_ETCD_PREFIX") ?? EtcdConfiguration.defaultPrefix,
            caFile: cacert, certificateFile: cert, keyFile: key, user: userName, password: password,
            requestTimeout: .milliseconds(Int64((etcdTimeout * 1000).rounded(.up))))
        configuration.readerLeaseTTL = .milliseconds(Int64((try leaseSeconds() * 1000).rounded(.up)))
        return configuration
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
        if let etcd = try etcdConfiguration() { return try await StateStore<JSONValue>(etcd: etcd, name: storeName, options: storeOptions) }
        return try await StateStore<JSONValue>(directory: directory, name: storeName, options: storeOptions)
    }

    /// Opens the store for a command that only reads: it needs no lockfile, and cannot write.
    func openReadOnly() async throws -> ReadOnlyStateStore<JSONValue> {
        if let etcd = try etcdConfiguration() { return try await ReadOnlyStateStore<JSONValue>(etcd: etcd, name: storeName, options: storeOptions) }
        return try await ReadOnlyStateStore<JSONValue>(directory: directory, name: storeName, options: storeOptions)
    }
}

extension GlobalOptions {
    /// Options taking a value, and flags, that may come before the subcommand's name.
    private static let valued: Set<String> = [
        "--dir", "--name", "--lock-timeout", "--label", "--durability", "--etcd", "--etcd-prefix", "--cacert", "--cert", "--key", "--user",
        "--etcd-timeout", "--lease-ttl",
    ]
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
