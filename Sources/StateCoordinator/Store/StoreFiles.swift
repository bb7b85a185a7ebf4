/// The names of a store's files inside its directory. The protocol article documents them.
struct StoreFiles: Sendable, Equatable {
    /// The store's name: letters, digits, `_` and `-`, so that the temp-file prefix of one store can
    /// never be the prefix of another store's names in the same directory.
    let name: String

    /// `NAME.json`: the state file, only ever replaced by `rename(2)`. (Stored, as is
    /// ``tempPrefix``: a watcher compares every event's name with them.)
    let stateFile: String
    /// `NAME.lock`: the lockfile, created once and never deleted, truncated or replaced.
    var lockFile: String { name + ".lock" }
    /// `.NAME.tmp-`: the prefix of temp files, which readers ignore (watchers read one that was
    /// just closed ahead of its rename; see the Watching article).
    let tempPrefix: String
    /// `NAME.history`: the directory of kept past versions.
    var historyDirectory: String { name + ".history" }

    /// `NAME.readers`: the registry of readers that report the versions they loaded and applied
    /// (one lock file and one record per reader; see the protocol article). A subdirectory, so
    /// that acknowledgements never wake the watchers of the store directory.
    var readersDirectory: String { name + ".readers" }

    /// `NAME.queue`: where writers waiting for the lock publish mutations for the holder to
    /// commit with its own (see ``MutationQueue``). A subdirectory, so that it wakes no watcher.
    var queueDirectory: String { name + ".queue" }

    /// The file name of a kept version inside ``historyDirectory``: `00000000000000000042.json`.
    static func historyFile(version: UInt64) -> String {
        let digits = String(version)
        return String(repeating: "0", count: 20 - digits.count) + digits + ".json"
    }

    /// The version of a history file name, or nil for other names.
    static func version(ofHistoryFile name: String) -> UInt64? {
        guard name.utf8.count == 25, name.hasSuffix(".json") else { return nil }
        return UInt64(name.prefix(20))
    }

    /// The longest store name accepted (the temp and history names must stay under NAME_MAX).
    static let maximumNameLength = 200

    init(name: String) throws(StateStoreError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
        guard !name.isEmpty, name.utf8.count <= Self.maximumNameLength, allowed else {
            throw StateStoreError(
                .invalidArgument,
                "Store name \"\(name)\" is not allowed.",
                hint: "Use 1 to \(Self.maximumNameLength) letters, digits, '_' or '-' (no dots or slashes).")
        }
        self.name = name
        stateFile = name + ".json"
        tempPrefix = "." + name + ".tmp-"
    }
}
