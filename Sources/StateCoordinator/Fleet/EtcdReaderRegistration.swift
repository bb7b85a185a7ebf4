import Foundation
import Logging
import Synchronization

/// A reader's entry in its store's registry on etcd, for the reader's life (<doc:FleetAcrossHosts>):
/// its record at `readers/live/ID` under a lease it keeps alive, and its roster entry at
/// `readers/roster/ID` (no lease), written together. Marks rewrite the record (coalesced, off the
/// caller's thread: ``EtcdLeasedKeys``). The record is lost with the lease when the process dies
/// or is cut off for longer than the lease's TTL; the roster entry stays until the reader closes
/// or a writer finds it dead.
///
/// The ID (`HOST-PID-RANDOM`) stays the reader's for its life: after its lease expired (a stopped
/// process, a partition), it comes back under the same ID, and a waiting writer follows it.
final class EtcdReaderRegistration: ReaderMarks {
    let label: String
    let entryID: String
    private let keys: EtcdStoreKeys
    private let record: Mutex<ReaderRecord>
    private let holder: EtcdLeasedKeys
    private let closed = Mutex(false)

    var id: String? { entryID }

    private init(access: EtcdStoreAccess, label: String, options: EtcdConfiguration, logger: Logger) {
        self.label = label
        keys = access.keys
        let host = ProcessIdentity.hostName
        let pid = ProcessIdentity.id
        entryID = EtcdStoreKeys.keySafe(host) + "-" + String(pid) + "-" + Self.randomSuffix()
        var record = ReaderRecord(label: label, pid: pid, host: host, registeredAt: Date())
        record.id = entryID
        record.connection = .direct
        self.record = Mutex(record)
        let seenKey = keys.seen(host: host)
        holder = EtcdLeasedKeys(
            client: access.client, ttl: options.readerLeaseTTL, what: "reader \(label)", logger: logger,
            heartbeat: { (seenKey, FleetHostNote(host: host, pid: pid, at: Date().timeIntervalSince1970).encoded()) },
            tidying: (access, host, [.direct]))
    }

    /// Registers a reader of the store on etcd: writes its entry (waiting up to one request
    /// timeout for the first write) and starts keeping its lease alive. Blocks: call it off the
    /// cooperative pool and off the etcd executor.
    static func register(
        _ access: EtcdStoreAccess, label: String, loaded: (version: UInt64, storeID: String)?, logger: Logger
    ) throws(StateStoreError) -> EtcdReaderRegistration {
        try ReaderRegistration.validate(label: label)
        let registration = EtcdReaderRegistration(access: access, label: label, options: access.client.configuration, logger: logger)
        if let loaded { registration.record.withLock { _ = $0.load(loaded.version, storeID: loaded.storeID, at: Date()) } }
        let record = registration.record.withLock { $0 }
        registration.holder.anchor(
            access.keys.roster(registration.entryID),
            FleetRosterEntry(
                id: registration.entryID, label: label, pid: record.pid, host: record.host, registeredAt: record.registeredAt,
                connection: .direct, ttl: access.client.configuration.readerLeaseTTL.seconds))
        registration.write()
        registration.holder.start()
        AsyncBridge.wait { () async throws(Never) in await registration.holder.flushed() }
        return registration
    }

    private static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt32, radix: 16)
    }

    private func write(urgent: Bool = true) {
        let bytes = record.withLock { record -> [UInt8] in
            record.updatedAt = Date().timeIntervalSince1970
            return record.encoded()
        }
        holder.set(keys.live(entryID), bytes, urgent: urgent)
    }

    private func update(urgent: Bool = true, _ change: (inout ReaderRecord) -> Bool) {
        guard !closed.withLock({ $0 }) else { return }
        if record.withLock({ change(&$0) }) { write(urgent: urgent) }
    }

    /// A "loaded" mark may wait a little for the application's acknowledgement, which usually
    /// follows at once: one write instead of two.
    func noteLoaded(_ version: UInt64, storeID: String) { update(urgent: false) { $0.load(version, storeID: storeID, at: Date()) } }

    func acknowledge(_ version: UInt64, storeID: String) { update { $0.apply(version, storeID: storeID, at: Date()) } }

    func reject(_ version: UInt64, storeID: String, error: String) {
        update {
            $0.reject(version, storeID: storeID, error: error, at: Date())
            return true
        }
    }

    func waitUntilWritten() async { await holder.flushed() }

    private func beginClosing() -> Bool {
        closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
    }

    func close() {
        guard beginClosing() else { return }
        holder.closeSoon(deleting: [keys.roster(entryID)])
    }

    func closeAndWait() async {
        guard beginClosing() else { return }
        await holder.close(deleting: [keys.roster(entryID)])
    }
}
