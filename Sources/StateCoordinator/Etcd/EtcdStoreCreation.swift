import Foundation

/// Creates a store on etcd: the state key at version 0 (or, re-created by force, above the
/// highest version the old one reached, so that readers never see the numbers go back), with a
/// new identity and its settings in the header, in one transaction that holds only if the key
/// is as it was read (absent, or the version being replaced).
struct EtcdStoreCreation {
    let access: EtcdStoreAccess
    let settings: StoreSettings
    let label: String

    /// What to do when the store exists.
    enum WhenExists { case fail, keep, replace }

    /// Creates the store with `stateBytes`; returns whether it did (false: `keep` found one).
    @discardableResult
    func run(stateBytes: [UInt8], whenExists: WhenExists) throws(StateStoreError) -> Bool {
        try Self.check(settings, access)
        try WriterIdentity.validate(label: label)
        if let schema = settings.schemaDocument {
            // A new store never starts with a state its own schema refuses.
            if let violation = schema.firstViolation(of: try JSONValue.checked(stateBytes)) {
                throw SchemaFile.refusal(violation, path: access.keys.stateKey, what: "The initial state")
            }
            if whenExists == .keep, try access.readState() != nil { return false }
            _ = try EtcdSchema(access: access).write(schema)
        }
        for _ in 0..<8 {
            let existing = try access.readState()
            if existing != nil {
                switch whenExists {
                case .keep: return false
                case .fail: throw alreadyExists
                case .replace: break
                }
            }
            // Re-created: numbered on from the old header's claim (even a damaged one's), never back.
            let version: UInt64 = existing.map { max(1, (StateFileCodec.claimedVersion($0.bytes) ?? 0) &+ 1) } ?? 0
            let header = StateFileHeader.committing(
                store: UUID().uuidString.lowercased(), version: version, settings: settings,
                stateBytes: stateBytes, label: label)
            let file = StateFileCodec.encode(header: header, stateBytes: stateBytes)
            let compare =
                existing.map { EtcdTransactions.modRevisionEquals(access.keys.state, $0.modRevision) }
                ?? EtcdTransactions.absent(access.keys.state)
            var success = [EtcdTransactions.put(access.keys.state, file)]
            if existing != nil {
                // A replaced store's history belongs to its old identity: it goes in the same transaction.
                success.append(EtcdTransactions.deleteRange(from: access.keys.historyPrefix, to: EtcdStoreKeys.rangeEnd(access.keys.historyPrefix)))
            }
            let result = try access.idempotentTransaction(
                EtcdTransactions.request(compare: [compare], success: success, failure: []), doing: "create")
            if result.succeeded { return true }
            // The comparison failed: someone created (or replaced) it meanwhile, or this very
            // transaction was applied on one member and sent again to the next when its answer
            // was lost. The new identity in our header tells them apart.
            if let now = try access.readState(), now.bytes == file { return true }
        }
        throw StateStoreError(
            .conflict, "Other writers kept changing \(access.keys.stateKey) while this store was being created; nothing was created.",
            hint: "Retry.")
    }

    private var alreadyExists: StateStoreError {
        StateStoreError(
            .alreadyExists, "A store named \"\(access.keys.name)\" exists on etcd already (\(access.keys.stateKey)); nothing was changed.",
            hint: "Open it, or re-create it by force (statectl --etcd URL init --force), which gives it a new identity.",
            path: access.keys.stateKey)
    }

    /// The settings a store on etcd supports.
    static func check(_ settings: StoreSettings, _ access: EtcdStoreAccess) throws(StateStoreError) {
        try settings.validateForCreation()
        if settings.keepHistoryFor != nil {
            throw StateStoreError(
                .invalidArgument,
                "Keeping history for a time (keepHistoryFor) is not supported for a store on etcd (\(access.keys.stateKey)): etcd's transactions prune by count.",
                hint: "Keep a number of versions instead (keepHistory, statectl init --keep-history N).")
        }
    }
}
