import Foundation

extension ReadableStateStore {
    /// Every live registered reader of this store (see ``reader(label:options:onEvent:)-5bxij``),
    /// oldest registration first. Entries of readers that died are removed on the way (when this
    /// process may write the registry) and never listed.
    public func readers() async throws(StateStoreError) -> [RegisteredReader] {
        try await offPool { (handle) throws(StateStoreError) in try ReaderRegistry(handle).liveReaders() }
    }

    /// The synchronous form of ``readers()``.
    @_disfavoredOverload
    public func readers() throws(StateStoreError) -> [RegisteredReader] {
        try ReaderRegistry(handle).liveReaders()
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
        let wait = AcknowledgementWait(
            registry: ReaderRegistry(handle), version: snapshot.version, storeID: snapshot.storeID, selection: selection,
            timeout: timeout)
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
        AcknowledgementWait(
            registry: ReaderRegistry(handle), version: snapshot.version, storeID: snapshot.storeID, selection: selection,
            timeout: timeout
        ).run()
    }
}
