import Foundation
import Synchronization

/// A mirror's publishing of its host's local reader registry to the store's registry on etcd
/// (<doc:FleetAcrossHosts>): each live local reader as a record at `readers/live/m-HOST-ID`
/// under the mirror's own lease, with its roster entry, and the mirror's presence at
/// `readers/mirror/HOST`. A bot that only reads its host's local file then counts in a
/// fleet-wide acknowledgement wait, and is named with its host when it lags.
///
/// - Liveness of a local reader is its flock, as the local registry's listing tells it: a reader
///   that dies is removed from etcd (record and roster entry) at the next look. Liveness of the
///   whole host is the mirror's lease: a mirror killed or cut off takes its readers' records with
///   it, and a waiting writer reports them as unknown, not dead.
/// - Versions: a local reader's marks name the local store's identity; the mirror commits the
///   source's versions under the same numbers, so it publishes them under the source's identity.
/// - Acknowledgements arrive as records renamed into the local registry directory (inotify, on
///   the watch loop); the whole registry is looked at again every ``fullLookInterval`` (a death
///   makes no event). Reading the local registry runs on a thread of the publisher's own.
final class MirrorRegistryPublisher: Sendable {
    /// How often the whole local registry is listed again (deaths, lost events).
    static var fullLookInterval: Duration { .milliseconds(250) }

    private struct Signals {
        var changed: Set<String> = []
        var all = true
        var stopped = false
        var sourceStoreID: String?
    }

    private let keys: EtcdStoreKeys
    private let registry: ReaderRegistry
    private let localStoreID: String
    private let readerUsers: Set<UInt32>?
    private let host: String
    private let holder: EtcdLeasedKeys
    private let ttl: Duration
    private let signals: Mutex<Signals>
    private let condition = NSCondition()
    /// The entries published, by local ID: their etcd ID and the bytes last set.
    private let published = Mutex<[String: (id: String, record: [UInt8], marks: [UInt64?])]>([:])

    init(access: EtcdStoreAccess, local: StoreHandle, localStoreID: String, sourceStoreID: String, readerUsers: Set<UInt32>?) {
        keys = access.keys
        registry = ReaderRegistry(local, removesDeadEntries: true)
        self.localStoreID = localStoreID
        self.readerUsers = readerUsers
        let host = ProcessIdentity.hostName
        let pid = ProcessIdentity.id
        self.host = host
        signals = Mutex(Signals(sourceStoreID: sourceStoreID))
        let seenKey = access.keys.seen(host: host)
        ttl = access.client.configuration.readerLeaseTTL
        holder = EtcdLeasedKeys(
            client: access.client, ttl: access.client.configuration.readerLeaseTTL, what: "mirror of host \(host)",
            logger: access.logger,
            heartbeat: { (seenKey, FleetHostNote(host: host, pid: pid, at: Date().timeIntervalSince1970).encoded()) },
            tidying: (access, host, [.direct, .mirror]))
        holder.set(
            access.keys.mirror(host: host),
            FleetHostNote(host: host, pid: pid, at: Date().timeIntervalSince1970, ttl: access.client.configuration.readerLeaseTTL.seconds).encoded())
    }

    /// The etcd ID of local entry `id`.
    func etcdID(_ localID: String) -> String { "m-" + EtcdStoreKeys.keySafe(host) + "-" + EtcdStoreKeys.keySafe(localID) }

    /// Starts publishing (the lease, the first look, the watch of the local registry).
    func start() {
        holder.start()
        let thread = Thread { [self] in run() }
        thread.name = "StateCoordinator.mirror.registry"
        thread.start()
    }

    /// The source's identity changed (it was re-created, and the mirror checked the local store against it).
    func noteSource(storeID: String) {
        signals.withLock { $0.sourceStoreID = storeID }
    }

    /// Stops: the lease is revoked (records and presence go at once); roster entries stay, so
    /// that the host's readers are reported as unknown rather than forgotten.
    func stop() async {
        signals.withLock { $0.stopped = true }
        wake()
        await holder.close(deleting: [])
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    private func notify(_ event: DirectoryEvent) {
        signals.withLock { signals in
            switch event {
            case .changed(let name, _):
                if let id = ReaderRegistry.id(of: name, suffix: ReaderRegistry.recordSuffix) { signals.changed.insert(id) } else { signals.all = true }
            default:
                signals.all = true
            }
        }
        wake()
    }

    private func run() {
        var subscription: UInt64?
        var nextFullLook = ContinuousClock.now
        while !signals.withLock({ $0.stopped }) {
            if subscription == nil, let path = canonicalPath(of: registry.path) {
                subscription = try? WatchLoop.shared.subscribe(directory: path) { [weak self] events in events.forEach { self?.notify($0) } }.get()
                if subscription != nil { signals.withLock { $0.all = true } }
            }
            let (changed, all, sourceStoreID) = signals.withLock { signals in
                defer {
                    signals.changed = []
                    signals.all = false
                }
                return (signals.changed, signals.all, signals.sourceStoreID)
            }
            if all || ContinuousClock.now >= nextFullLook {
                lookAtAll(sourceStoreID: sourceStoreID)
                nextFullLook = ContinuousClock.now + Self.fullLookInterval
            } else {
                for id in changed.sorted() { lookAt(id, sourceStoreID: sourceStoreID) }
            }
            condition.lock()
            let pending = signals.withLock { !$0.changed.isEmpty || $0.all || $0.stopped }
            if !pending { _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, ContinuousClock.now.duration(to: nextFullLook).seconds))) }
            condition.unlock()
        }
        if let subscription { WatchLoop.shared.unsubscribe(subscription, waitForLoop: false) }
    }

    /// Every live local reader published, every departed one removed.
    private func lookAtAll(sourceStoreID: String?) {
        // A registry that cannot be listed (not created yet: no local reader ever registered) has no readers.
        let readers = (try? registry.listing(readerUsers: readerUsers))?.readers ?? []
        let live = Set(readers.map(\.id))
        for reader in readers { publish(reader, sourceStoreID: sourceStoreID) }
        let gone = published.withLock { published in published.keys.filter { !live.contains($0) } }
        for localID in gone { unpublish(localID) }
    }

    /// One local reader's record read again after an event.
    private func lookAt(_ localID: String, sourceStoreID: String?) {
        switch registry.reading(localID, owner: nil) {
        case .reader(let reader)?:
            // Its liveness is checked at the next full look; an event means it wrote just now.
            if reader.label.isEmpty { return }
            if !(readerUsers.map { reader.owner.map($0.contains) ?? false } ?? true) { return }
            publish(reader, sourceStoreID: sourceStoreID)
        case .invalid?, nil:
            signals.withLock { $0.all = true }
        }
    }

    private func publish(_ reader: RegisteredReader, sourceStoreID: String?) {
        guard !reader.label.isEmpty else { return }
        let id = etcdID(reader.id)
        var record = ReaderRecord(label: reader.label, pid: reader.processID, host: reader.hostName.isEmpty ? host : reader.hostName, registeredAt: reader.registeredAt)
        record.id = id
        record.connection = .mirror
        // Versions of the local store are the source's under the same numbers.
        record.storeID = reader.storeID == localStoreID ? sourceStoreID : reader.storeID
        record.loadedVersion = reader.loaded?.version
        record.loadedAt = reader.loaded?.at.timeIntervalSince1970
        record.appliedVersion = reader.applied?.version
        record.appliedAt = reader.applied?.at.timeIntervalSince1970
        record.rejectedVersion = reader.rejected?.version
        record.rejectedAt = reader.rejected?.at.timeIntervalSince1970
        record.rejectedError = reader.rejected?.error
        record.updatedAt = reader.updatedAt.timeIntervalSince1970
        let bytes = record.encoded()
        let marks = [record.appliedVersion, record.rejectedVersion]
        let previous = published.withLock { published -> (record: [UInt8], marks: [UInt64?])? in
            defer { published[reader.id] = (id, bytes, marks) }
            return published[reader.id].map { ($0.record, $0.marks) }
        }
        guard previous?.record != bytes else { return }
        if previous == nil {
            holder.anchor(
                keys.roster(id),
                FleetRosterEntry(
                    id: id, label: record.label, pid: record.pid, host: record.host, registeredAt: record.registeredAt, connection: .mirror,
                    ttl: ttl.seconds))
        }
        // A new acknowledgement or rejection goes at once; a "loaded" mark may wait a little.
        holder.set(keys.live(id), bytes, urgent: previous.map { $0.marks != marks } ?? true)
    }

    private func unpublish(_ localID: String) {
        guard let entry = published.withLock({ $0.removeValue(forKey: localID) }) else { return }
        holder.set(keys.live(entry.id), nil)
        holder.anchor(keys.roster(entry.id), nil)
    }
}
