import Foundation
import Logging
import Synchronization

/// Keys this process keeps in etcd under one lease of its own, kept alive every third of its
/// TTL, and the registry's other writes beside them: a registered reader's record, a mirror's
/// presence and its host's readers (<doc:FleetAcrossHosts>).
///
/// Changes are made in memory and written by one task on ``EtcdTaskExecutor`` (never the
/// caller's thread, never the cooperative pool): each round writes, in one transaction, every
/// leased key whose value changed since it was written and every queued write without a lease,
/// so marks made while a round runs are coalesced into the next. When the lease is found gone
/// (it expired while the process was cut off or stopped), a new one is granted and every leased
/// key is written again under it. A cluster that cannot be reached is tried again, and said
/// once in the log.
final class EtcdLeasedKeys: Sendable {
    fileprivate struct Contents {
        /// The leased keys and the values they should have.
        var wanted: [[UInt8]: [UInt8]] = [:]
        /// The leased keys as last written under `lease`.
        var written: [[UInt8]: [UInt8]] = [:]
        /// Writes without a lease (nil: delete), the last one per key.
        var unleased: [[UInt8]: [UInt8]?] = [:]
        var unleasedOrder: [[UInt8]] = []
        /// Keys without a lease written again with every new lease (roster entries: a reader back
        /// after its lease lapsed, and taken for dead meanwhile, is in the roster again).
        var anchored: [[UInt8]: FleetRosterEntry] = [:]
        /// The TTL etcd granted the current lease, in seconds (it may raise a short one to its minimum).
        var grantedTTL: Double?
        var lease: Int64?
        /// Set by a change that may wait a little (a "loaded" mark): when it is due, unless an
        /// urgent one (an acknowledgement) takes it along first.
        var lazyDue: ContinuousClock.Instant?
        var urgent = false
        var generation = 0
        var writtenGeneration = 0
        var waiters: [(generation: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var closing: (deletes: [[UInt8]], done: CheckedContinuation<Void, Never>?)?
        var finished = false
        var reportedFailure: String?
    }

    private let client: EtcdClient
    private let ttl: Duration
    private let what: String
    private let logger: Logger
    /// Written (without a lease) every `heartbeatInterval`: when the host was last heard of.
    private let heartbeat: (@Sendable () -> (key: [UInt8], value: [UInt8]))?
    private let heartbeatInterval: Duration
    private let contents = Mutex(Contents())
    private let wakeup = EtcdWakeup()
    /// The registry and host this holder tidies (``tidyRoster(_:host:connectedSince:absentSince:)``).
    private let tidying: (access: EtcdStoreAccess, host: String, connections: Set<ReaderConnection>)?

    /// - Parameters:
    ///   - what: how the holder is named in the log ("reader bot-1", "mirror of host b").
    ///   - heartbeat: a write made every `heartbeatInterval` (and with the first round).
    ///   - tidying: the store, this process's host and the connections it vouches for: once every
    ///     TTL, roster entries of the host with those connections whose lease has been gone for
    ///     their whole TTL while this holder's own lease was kept alive are removed (their readers
    ///     died: this host's link to the cluster was up). A direct reader vouches for direct
    ///     readers; a mirror for direct readers and its own (a reader behind another process's
    ///     mirror is the mirror's to answer for).
    init(
        client: EtcdClient, ttl: Duration, what: String, logger: Logger,
        heartbeatInterval: Duration = .seconds(5), heartbeat: (@Sendable () -> (key: [UInt8], value: [UInt8]))? = nil,
        tidying: (access: EtcdStoreAccess, host: String, connections: Set<ReaderConnection>)? = nil
    ) {
        self.tidying = tidying
        self.client = client
        self.ttl = max(ttl, .seconds(1))
        self.what = what
        self.logger = logger
        self.heartbeat = heartbeat
        self.heartbeatInterval = heartbeatInterval
    }

    /// Starts the task that writes and keeps the lease alive.
    func start() {
        Task(executorPreference: EtcdTaskExecutor.shared) { await self.run() }
    }

    /// How long a change that is not urgent may wait for one that is (a reader's "loaded" mark
    /// for its "applied" one): one write to etcd instead of two in a row.
    static var lazyDelay: Duration { .milliseconds(20) }

    /// Sets a leased key (nil: removes it). `urgent` false lets the write wait up to
    /// ``lazyDelay`` for the next urgent change.
    func set(_ key: [UInt8], _ value: [UInt8]?, urgent: Bool = true) {
        contents.withLock { contents in
            contents.wanted[key] = value
            contents.generation += 1
            if urgent { contents.urgent = true } else { contents.lazyDue = contents.lazyDue ?? .now + Self.lazyDelay }
        }
        wakeup.signal()
    }

    /// A roster entry (no lease), written now and again with every new lease, with the TTL etcd
    /// granted when it is longer than the one asked for (nil: deleted now, and no longer written).
    func anchor(_ key: [UInt8], _ entry: FleetRosterEntry?) {
        contents.withLock { contents in
            contents.anchored[key] = entry
            contents.queue(key, entry.map { contents.withGrantedTTL($0).encoded() })
            contents.generation += 1
            contents.urgent = true
        }
        wakeup.signal()
    }

    /// Returns once every change made before the call was written, or a round writing it failed,
    /// or the holder closed.
    func flushed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = contents.withLock { contents -> Bool in
                if contents.finished || contents.writtenGeneration >= contents.generation { return true }
                contents.waiters.append((contents.generation, continuation))
                // Whoever waits for a lazy change makes it urgent.
                contents.urgent = true
                return false
            }
            if now { continuation.resume() } else { wakeup.signal() }
        }
    }

    /// Revokes the lease (its keys disappear at once), deletes `deletes`, and stops; returns when
    /// done or given up (one request timeout). A holder that never closes leaves its keys until
    /// the lease expires.
    func close(deleting deletes: [[UInt8]]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let already = contents.withLock { contents -> Bool in
                guard contents.closing == nil, !contents.finished else { return true }
                contents.closing = (deletes, continuation)
                return false
            }
            if already { continuation.resume() }
            wakeup.signal()
        }
    }

    /// Closes without waiting.
    func closeSoon(deleting deletes: [[UInt8]]) {
        Task(executorPreference: EtcdTaskExecutor.shared) { await self.close(deleting: deletes) }
    }

    private func run() async {
        let clock = ContinuousClock()
        var nextKeepAlive = clock.now
        var nextHeartbeat = clock.now
        var nextTidy = clock.now + ttl
        /// Since when every round has succeeded (nil after a failure): the host's link was up.
        var connectedSince: ContinuousClock.Instant?
        var absentSince: [String: ContinuousClock.Instant] = [:]
        var tidyingTask: TidyingTask?
        var failures = 0
        while true {
            if let closing = contents.withLock({ $0.closing }) {
                await finish(closing.deletes)
                let (done, waiters) = contents.withLock { contents in
                    contents.finished = true
                    defer { contents.waiters = [] }
                    return (contents.closing?.done, contents.waiters.map(\.continuation))
                }
                waiters.forEach { $0.resume() }
                done?.resume()
                return
            }
            do throws(EtcdFailure) {
                if contents.withLock({ $0.lease }) == nil {
                    let lease = try await EtcdLease.grant(client, ttl: ttl, timeout: requestBudget)
                    contents.withLock { contents in
                        contents.lease = lease.id
                        contents.grantedTTL = Double(lease.ttl)
                        contents.written = [:]
                        contents.urgent = true
                        for (key, entry) in contents.anchored { contents.queue(key, contents.withGrantedTTL(entry).encoded()) }
                    }
                    nextKeepAlive = clock.now + ttl / 3
                }
                // Only lazy changes pending, not due yet: wait for them, or for an urgent one.
                let lazyUntil = contents.withLock { contents -> ContinuousClock.Instant? in
                    guard !contents.urgent, contents.unleasedOrder.isEmpty, let due = contents.lazyDue, due > clock.now else { return nil }
                    return due
                }
                if let lazyUntil, clock.now < nextHeartbeat || heartbeat == nil, clock.now < nextKeepAlive {
                    await wakeup.wait(until: min(lazyUntil, nextKeepAlive))
                    continue
                }
                let beat = clock.now >= nextHeartbeat ? heartbeat?() : nil
                let (operations, generation, wanted) = contents.withLock { contents in
                    var operations: [Etcdserverpb_RequestOp] = []
                    let lease = contents.lease ?? 0
                    for (key, value) in contents.wanted where contents.written[key] != value {
                        operations.append(EtcdTransactions.put(key, value, lease: lease))
                    }
                    for key in contents.written.keys where contents.wanted[key] == nil {
                        operations.append(EtcdTransactions.delete(key))
                    }
                    for key in contents.unleasedOrder {
                        if let value = contents.unleased[key]! {
                            operations.append(EtcdTransactions.put(key, value))
                        } else {
                            operations.append(EtcdTransactions.delete(key))
                        }
                    }
                    contents.urgent = false
                    contents.lazyDue = nil
                    return (operations, contents.generation, contents.wanted)
                }
                var all = operations
                if let beat { all.append(EtcdTransactions.put(beat.key, beat.value)) }
                if !all.isEmpty {
                    if try await leaseLost(applying: all) {
                        // The lease expired while we were away: a new one, and everything again.
                        contents.withLock { $0.lease = nil }
                        continue
                    }
                    if beat != nil { nextHeartbeat = clock.now + heartbeatInterval }
                }
                let ready = contents.withLock { contents -> [CheckedContinuation<Void, Never>] in
                    contents.written = wanted
                    // Unleased writes taken this round are done unless changed meanwhile.
                    if contents.generation == generation {
                        contents.unleased = [:]
                        contents.unleasedOrder = []
                    }
                    contents.writtenGeneration = max(contents.writtenGeneration, generation)
                    let ready = contents.waiters.filter { $0.generation <= generation }.map(\.continuation)
                    contents.waiters.removeAll { $0.generation <= generation }
                    contents.reportedFailure = nil
                    return ready
                }
                ready.forEach { $0.resume() }
                if clock.now >= nextKeepAlive, let lease = contents.withLock({ $0.lease }) {
                    let remaining = try await EtcdLease.keepAlive(client, id: lease, timeout: requestBudget)
                    if remaining <= 0 {
                        contents.withLock { $0.lease = nil }
                        continue
                    }
                    nextKeepAlive = clock.now + ttl / 3
                }
                failures = 0
                connectedSince = connectedSince ?? clock.now
                if let tidying, clock.now >= nextTidy, let since = connectedSince, tidyingTask.map({ $0.isFinished }) ?? true {
                    // In a task of its own: a slow read of the registry never delays a keep-alive.
                    let absent = absentSince
                    tidyingTask = TidyingTask { () async -> [String: ContinuousClock.Instant] in
                        var absent = absent
                        await Self.tidyRoster(
                            tidying.access, host: tidying.host, connections: tidying.connections, connectedSince: since, absentSince: &absent)
                        return absent
                    }
                    nextTidy = clock.now + ttl
                }
                if let finished = tidyingTask?.result { absentSince = finished }
            } catch {
                connectedSince = nil
                failures += 1
                report(error)
                // Whoever waits for a write is told it failed (it is tried again all the same).
                let waiting = contents.withLock { contents in
                    defer { contents.waiters = [] }
                    return contents.waiters.map(\.continuation)
                }
                waiting.forEach { $0.resume() }
                await wakeup.wait(until: clock.now + min(ttl / 3, .milliseconds(100) * min(failures, 10)))
                continue
            }
            await wakeup.wait(until: min(nextKeepAlive, heartbeat == nil ? nextKeepAlive : nextHeartbeat))
        }
    }

    /// Each request's budget: a third of the TTL (at least 500 ms), so that a member that hangs
    /// costs the next keep-alive's turn, not the lease.
    private var requestBudget: Duration { max(.milliseconds(500), min(client.configuration.requestTimeout, ttl / 3)) }

    /// A tidying run in the background, and what it found when it is done.
    private final class TidyingTask: Sendable {
        private let outcome = Mutex<[String: ContinuousClock.Instant]?>(nil)
        private let done = Mutex(false)

        init(_ work: @escaping @Sendable () async -> [String: ContinuousClock.Instant]) {
            Task(executorPreference: EtcdTaskExecutor.shared) { [self] in
                let found = await work()
                outcome.withLock { $0 = found }
                done.withLock { $0 = true }
            }
        }

        var isFinished: Bool { done.withLock { $0 } }
        /// What the run found, once (nil before it ends and after it was taken).
        var result: [String: ContinuousClock.Instant]? { outcome.withLock { value in defer { value = nil }; return value } }
    }

    /// Removes the roster entries of `host`'s readers whose record has been gone for their whole
    /// lease TTL while this process was connected (`connectedSince`): on a host whose link is up,
    /// a reader that keeps no lease alive is dead. `absentSince` carries what earlier looks saw.
    static func tidyRoster(
        _ access: EtcdStoreAccess, host: String, connections: Set<ReaderConnection>, connectedSince: ContinuousClock.Instant,
        absentSince: inout [String: ContinuousClock.Instant]
    ) async {
        guard let view = try? await access.fleetView().view else { return }
        let now = ContinuousClock.now
        let safeHost = EtcdStoreKeys.keySafe(host)
        var absent: [String: ContinuousClock.Instant] = [:]
        var dead: [String] = []
        for entry in view.roster.values
        where EtcdStoreKeys.keySafe(entry.host) == safeHost && connections.contains(entry.connection) && view.live[entry.id] == nil {
            let since = absentSince[entry.id] ?? now
            absent[entry.id] = since
            if now - max(since, connectedSince) >= view.leaseTTL(of: entry.id) { dead.append(entry.id) }
        }
        absentSince = absent
        if !dead.isEmpty { await access.removeDeadReaders(dead) }
    }

    /// Applies `operations`; true when etcd refused them because the lease is gone.
    private func leaseLost(applying operations: [Etcdserverpb_RequestOp]) async throws(EtcdFailure) -> Bool {
        do {
            try await EtcdLease.apply(client, operations, timeout: requestBudget)
            return false
        } catch {
            if case .refused(let rpc, _) = error, rpc.message.contains("lease not found") { return true }
            throw error
        }
    }

    private func finish(_ deletes: [[UInt8]]) async {
        let lease = contents.withLock { $0.lease }
        do throws(EtcdFailure) {
            if let lease { try await EtcdLease.revoke(client, id: lease) }
            if !deletes.isEmpty { try await EtcdLease.apply(client, deletes.map(EtcdTransactions.delete)) }
        } catch {
            logger.warning(
                "\(what): could not remove its registry entries from etcd; they go when the lease expires",
                metadata: ["error": "\(error.reason)"])
        }
    }

    private func report(_ failure: EtcdFailure) {
        let text = failure.reason
        let first = contents.withLock { contents -> Bool in
            defer { contents.reportedFailure = text }
            return contents.reportedFailure == nil
        }
        if first { logger.warning("\(what): etcd registry write or keep-alive failed; retrying", metadata: ["error": "\(text)"]) }
    }
}

extension EtcdLeasedKeys.Contents {
    /// `entry` with the granted TTL when etcd granted more than it says.
    fileprivate func withGrantedTTL(_ entry: FleetRosterEntry) -> FleetRosterEntry {
        var entry = entry
        if let grantedTTL, grantedTTL > entry.ttl { entry.ttl = grantedTTL }
        return entry
    }

    /// Queues an unleased write, replacing one queued for the same key.
    fileprivate mutating func queue(_ key: [UInt8], _ value: [UInt8]?) {
        if unleased.updateValue(value, forKey: key) == nil { unleasedOrder.append(key) }
    }
}
