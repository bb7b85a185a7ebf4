import SystemPackage

/// The stores in a directory, for messages that name them.
struct StoreDirectoryListing {
    let calls: SystemCalls
    let directory: FileDescriptor

    /// Names `NAME` with a `NAME.json` that is a store's state file (its first line claims our
    /// header) or has a `NAME.lock` beside it, sorted; empty when the directory cannot be listed.
    func storeNames() -> [String] {
        guard let entries = try? calls.listDirectory(directory) else { return [] }
        let names = Set(entries)
        return entries.compactMap { entry -> String? in
            guard entry.hasSuffix(".json"), !entry.hasPrefix(".") else { return nil }
            let name = String(entry.dropLast(5))
            guard (try? StoreFiles(name: name)) != nil else { return nil }
            return names.contains(name + ".lock") || claimsOurHeader(entry) ? name : nil
        }.sorted()
    }

    private func claimsOurHeader(_ entry: String) -> Bool {
        guard let fd = try? calls.open(directory, entry, .readExisting) else { return false }
        defer { try? calls.close(fd) }
        guard let start = try? calls.read(fd, upTo: StateFileHeader.maximumLength) else { return false }
        return StateFileCodec.claimedHeader(start.prefix(while: { $0 != UInt8(ascii: "\n") })) != nil
    }
}
