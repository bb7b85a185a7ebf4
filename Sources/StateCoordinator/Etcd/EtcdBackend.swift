/// The store kept on an etcd cluster (<doc:RunningOnEtcd>): the state key holds exactly a state
/// file's bytes; a commit is one transaction compared on the key's `mod_revision`; history is
/// kept as keys of its own; followers watch the key.
struct EtcdBackend<State: Codable & Sendable>: StoreBackend {
    let access: EtcdStoreAccess
    let options: StateStoreOptions
    /// This store object's last write, the next commit's base (``EtcdLastWrite``).
    let lastWrite = EtcdLastWrite()

    private var path: String { access.keys.stateKey }

    func commit(_ batch: [PendingUpdate<State>]) {
        EtcdBatchCommit<State>(access: access, options: options, lastWrite: lastWrite).run(batch)
    }

    func readNewest() throws(StateStoreError) -> StateSnapshot<State> {
        try current().snapshot(as: State.self, path: path)
    }

    /// The newest version, verified.
    func current() throws(StateStoreError) -> EtcdVersion {
        guard let value = try access.readState() else { throw EtcdStoreLocation.noStore(access) }
        return try EtcdVersion(value, path: path)
    }

    /// The kept versions, newest first, older than the current one (as on a file store).
    func historyListing() throws(StateStoreError) -> HistoryListing {
        let newest = try? current()
        let current = newest?.header.version
        var listing = HistoryListing(entries: [], damaged: [])
        for value in try access.list(access.keys.historyPrefix, doing: "list the history of").reversed() {
            let name = String(decoding: value.key, as: UTF8.self)
            guard let version = access.keys.version(ofHistoryKey: value.key), current.map({ version < $0 }) ?? true else { continue }
            do {
                let kept = try EtcdVersion(value, path: name)
                guard kept.header.version == version else {
                    listing.damaged.append(
                        DamagedHistoryEntry(version: version, path: name, reason: "\(name) holds version \(kept.header.version)"))
                    continue
                }
                // A version of an earlier identity of the store (left by a re-creation) is not this store's.
                if let newest, kept.header.store != newest.header.store { continue }
                listing.entries.append(HistoryEntry(header: kept.header))
            } catch {
                listing.damaged.append(DamagedHistoryEntry(version: version, path: name, reason: error.message))
            }
        }
        return listing
    }

    func readKept(version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        let newest = try current()
        if newest.header.version == version { return try newest.snapshot(as: State.self, path: path) }
        let key = access.keys.history(version)
        let name = String(decoding: key, as: UTF8.self)
        guard let value = try access.read(key, doing: "read history of") else {
            throw StateStoreError(
                .notFound, "Version \(version) of \(path) is not kept (the current version is \(newest.header.version)).",
                hint: "statectl history lists the versions kept.", path: name)
        }
        let kept = try EtcdVersion(value, path: name)
        guard kept.header.version == version else {
            throw StateStoreError(.corrupt, "\(name) holds version \(kept.header.version), not \(version).", path: name)
        }
        guard kept.header.store == newest.header.store else {
            throw StateStoreError(
                .notFound, "Version \(version) of \(path) is not kept: \(name) belongs to an earlier identity of the store.",
                hint: "statectl history lists the versions kept.", path: name)
        }
        return try kept.snapshot(as: State.self, path: name)
    }

    func readNewestHeld() throws(StateStoreError) -> (snapshot: StateSnapshot<State>, held: HeldVersion) {
        let (value, revision) = try access.readStateWithRevision()
        guard let value else { throw EtcdStoreLocation.noStore(access) }
        let snapshot = try EtcdVersion(value, path: path).snapshot(as: State.self, path: path)
        // The cluster's revision at the read, not the key's: a follow starts after it.
        return (snapshot, HeldVersion(version: snapshot.version, storeID: snapshot.storeID, file: nil, revision: revision))
    }

    func follow(_ request: FollowRequest<State>) -> any BackendFollow {
        let follow = EtcdFollow<State>(access: access, request: request)
        follow.start()
        return follow
    }

    func supportedWatchMode(options: WatchOptions) -> WatchMode {
        .etcd(endpoint: access.client.endpoints.first?.description ?? "")
    }

    /// The fleet's readers (<doc:FleetAcrossHosts>): live ones, ones whose lease is gone while
    /// their host is heard from, and hosts whose readers' state is unknown.
    func readerListing() throws(StateStoreError) -> ReaderListing {
        try access.fleetViewBlocking().listing()
    }

    func verify() -> VerificationReport {
        var report = VerificationReport()
        do {
            let newest = try current()
            report.currentVersion = newest.header.version
            if newest.header.settings.schema != nil {
                do {
                    let schema = try EtcdSchema(access: access).load(newest.header.settings.schema!)
                    if let violation = schema.firstViolation(of: try JSONValue.checked(Array(newest.stateBytes))) {
                        let error = SchemaFile.refusal(violation, path: path, what: "The current state")
                        report.problems.append(VerificationProblem(.schemaViolation, path: path, description: error.message, error: error))
                    }
                } catch {
                    report.problems.append(VerificationProblem(.schemaViolation, path: path, description: error.message, error: error))
                }
            }
        } catch {
            report.problems.append(VerificationProblem(.stateFileUnreadable, path: path, description: error.message, error: error))
        }
        if let listing = try? historyListing() {
            for damaged in listing.damaged {
                report.problems.append(VerificationProblem(.historyEntryDamaged, path: damaged.path, description: damaged.reason))
            }
        }
        return report
    }
}
