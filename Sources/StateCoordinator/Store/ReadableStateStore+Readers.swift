import Foundation

extension ReadableStateStore {
    /// Every live registered reader of this store that counts (see
    /// ``StateObservation/reader(in:onEvent:)-7oc6k`` and ``readerListing()-5hfnt``), oldest registration
    /// first. Entries of readers that died are never listed; a ``StateStore`` removes them on the
    /// way (when this process may write the registry), a ``ReadOnlyStateStore`` never unlinks.
    public func readers() async throws(StateStoreError) -> [RegisteredReader] {
        try await readerListing().readers
    }

    /// The synchronous form of ``readers()``.
    @_disfavoredOverload
    public func readers() throws(StateStoreError) -> [RegisteredReader] {
        try readerListing().readers
    }

    /// A look at the store's reader registry: the live readers that count, those run by users
    /// the store's ``StoreSettings/readerUsers`` does not name, the entries that are no reader's
    /// (files of two users, a planted link), and whether every entry was looked at (at most
    /// ``ReaderListing/maximumConsidered`` are). The registry is shared by every user: each
    /// reader's ``RegisteredReader/owner`` is the one thing in it nobody else can forge.
    public func readerListing() async throws(StateStoreError) -> ReaderListing {
        let backend = backend
        return try await io.run { () throws(StateStoreError) in try backend.readerListing() }
    }

    /// The synchronous form of ``readerListing()-5hfnt``.
    @_disfavoredOverload
    public func readerListing() throws(StateStoreError) -> ReaderListing {
        try backend.readerListing()
    }

    /// Waits until every selected reader that is live when the wait starts has applied
    /// `snapshot`'s version or a newer one (``StateReader/acknowledge(_:)``), has rejected it, or
    /// has died; or until `timeout` passes. Call it right after the commit, with the snapshot
    /// the commit returned.
    ///
    /// ```swift
    /// struct Risk: Codable, Sendable { var halt = false }
    /// let store = try await StateStore<Risk>(directory: "/srv/bot")
    /// let halted = try await store.update { $0.halt = true }
    /// let report = await store.waitForAcknowledgements(of: halted, timeout: .seconds(5))
    /// for bot in report.lagging { print("\(bot.label) (pid \(bot.processID)) has not applied the halt") }
    /// ```
    ///
    /// The wait runs on a thread of its own (never the cooperative pool) and wakes on each
    /// acknowledgement; cancelling the task ends it at once, with the report as it stands
    /// (``AcknowledgementReport/timedOut`` true when readers were still lagging).
    ///
    /// - Returns: who applied the version, who is lagging (with the versions they loaded and
    ///   applied), who rejected it (with the error) and who died meanwhile. Not an error when
    ///   readers lag: check ``AcknowledgementReport/isComplete``.
    public func waitForAcknowledgements(
        of snapshot: StateSnapshot<State>, from selection: ReaderSelection = .all, timeout: Duration = .seconds(10)
    ) async -> AcknowledgementReport {
        guard let handle = fileHandle else {
            let wait = etcdWait(snapshot, selection: selection, timeout: timeout)
            let task = Task(executorPreference: EtcdTaskExecutor.shared) { await wait.run() }
            return await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        }
        let wait = AcknowledgementWait(
            registry: ReaderRegistry(handle), version: snapshot.version, storeID: snapshot.storeID, selection: selection,
            readerUsers: snapshot.settings.readerUsers.map(Set.init), timeout: timeout)
        return await withTaskCancellationHandler {
            await BlockingWorkThread.runOnce("StateCoordinator.acknowledgements") { wait.run() }
        } onCancel: {
            wait.cancel()
        }
    }

    /// The synchronous form of ``waitForAcknowledgements(of:from:timeout:)``: blocks the
    /// calling thread for up to `timeout`.
    @_disfavoredOverload
    public func waitForAcknowledgements(
        of snapshot: StateSnapshot<State>, from selection: ReaderSelection = .all, timeout: Duration = .seconds(10)
    ) -> AcknowledgementReport {
        guard let handle = fileHandle else {
            let wait = etcdWait(snapshot, selection: selection, timeout: timeout)
            return AsyncBridge.wait { () async throws(Never) in await wait.run() }
        }
        return AcknowledgementWait(
            registry: ReaderRegistry(handle), version: snapshot.version, storeID: snapshot.storeID, selection: selection,
            readerUsers: snapshot.settings.readerUsers.map(Set.init), timeout: timeout
        ).run()
    }
}

extension ReadableStateStore {
    /// A wait on the store's registry on etcd, across every host (<doc:FleetAcrossHosts>).
    func etcdWait(_ snapshot: StateSnapshot<State>, selection: ReaderSelection, timeout: Duration) -> EtcdAcknowledgementWait {
        guard case .etcd(let access) = place else { preconditionFailure("etcdWait on a store in a directory") }
        return EtcdAcknowledgementWait(
            access: access, version: snapshot.version, storeID: snapshot.storeID, selection: selection, timeout: timeout,
            removesDead: self is StateStore<State>)
    }
}
