import Foundation
import Synchronization

@testable import StateCoordinator
@testable import StateJSON

/// A store backend that keeps its versions in memory: the trivial second backend that shows the
/// ``StoreBackend`` seam holds (a commit is a ``BatchPlan`` applied under a mutex), used by the
/// backend tests only, never shipped. It has no schema, no settings changes and no registry.
final class InMemoryBackend<State: Codable & Sendable>: StoreBackend, Sendable {
    private struct Version {
        var header: StateFileHeader
        var state: State
        var size: Int
    }

    private struct Contents {
        var versions: [UInt64: Version] = [:]
        var newest: UInt64 = 0
        var followers: [UInt64: @Sendable (WatchEvent<State>) -> Void] = [:]
        var nextFollower: UInt64 = 0
    }

    private let store = UUID().uuidString.lowercased()
    private let settings: StoreSettings
    private let contents = Mutex(Contents())

    init(initial: State, settings: StoreSettings = StoreSettings(keepHistory: 10)) throws {
        self.settings = settings
        let bytes = try StateEncoding.encode(initial, limit: settings.maximumStateBytes)
        let header = StateFileHeader.committing(store: store, version: 0, settings: settings, stateBytes: bytes, label: "memory")
        contents.withLock { $0.versions[0] = Version(header: header, state: initial, size: bytes.count) }
    }

    func commit(_ batch: [PendingUpdate<State>]) {
        let (delivered, followers) = contents.withLock { contents in
            let delivered = commit(batch, in: &contents)
            return (delivered, Array(contents.followers.values))
        }
        for snapshot in delivered { followers.forEach { $0(.snapshot(snapshot)) } }
    }

    /// Commits under the lock; returns the versions made.
    private func commit(_ batch: [PendingUpdate<State>], in contents: inout Contents) -> [StateSnapshot<State>] {
        let newest = contents.versions[contents.newest]!
        let plan = BatchPlan(
            batch,
            onto: BatchPlan.Base(
                version: newest.header.version, settings: newest.header.settings, state: newest.state, checksum: newest.header.checksum,
                stateBytes: newest.header.stateBytes),
            changeSettings: { (update, _) throws(StateStoreError) in
                if update.settingsChange != nil { throw StateStoreError(.invalidArgument, "An in-memory store has no settings to change.") }
            },
            encode: { (state, settings) throws(StateStoreError) in try StateEncoding.encode(state, limit: settings.maximumStateBytes) },
            checkSchema: { (_, _) throws(StateStoreError) in })
        for (update, refusal) in plan.refused {
            switch refusal {
            case .conflict(let expected, let current):
                update.fail(StateStoreError(.conflict, "Expected version \(expected), the store is at \(current).", currentVersion: current))
            case .failed(let error): update.fail(error)
            }
        }
        switch plan.decision {
        case .nothing:
            return []
        case .unchanged(let accepted, let state):
            let unchanged = StateSnapshot(header: newest.header, state: state, fileSize: newest.size)
            accepted.forEach { $0.succeed(with: unchanged) }
            return []
        case .oneByOne(let accepted):
            return accepted.flatMap { commit([$0], in: &contents) }
        case .write(let version):
            let header = StateFileHeader.committing(
                store: store, version: newest.header.version + 1, settings: version.settings, stateBytes: version.stateBytes,
                checksum: version.checksum, label: "memory")
            contents.versions[header.version] = Version(header: header, state: version.state, size: version.stateBytes.count)
            contents.newest = header.version
            for old in contents.versions.keys where old + UInt64(settings.keepHistory) < header.version { contents.versions[old] = nil }
            let snapshot = StateSnapshot(header: header, state: version.state, fileSize: version.stateBytes.count)
            version.accepted.forEach { $0.succeed(with: snapshot) }
            return [snapshot]
        }
    }

    func readNewest() throws(StateStoreError) -> StateSnapshot<State> {
        contents.withLock { contents in
            let newest = contents.versions[contents.newest]!
            return StateSnapshot(header: newest.header, state: newest.state, fileSize: newest.size)
        }
    }

    func historyListing() throws(StateStoreError) -> HistoryListing {
        contents.withLock { contents in
            let kept = contents.versions.values.filter { $0.header.version != contents.newest }.sorted { $0.header.version > $1.header.version }
            return HistoryListing(entries: kept.map { HistoryEntry(header: $0.header) }, damaged: [])
        }
    }

    func readKept(version: UInt64) throws(StateStoreError) -> StateSnapshot<State> {
        let kept = contents.withLock { $0.newest == version ? nil : $0.versions[version] }
        guard let kept else { throw StateStoreError(.notFound, "Version \(version) is not kept.") }
        return StateSnapshot(header: kept.header, state: kept.state, fileSize: kept.size)
    }

    func readNewestHeld() throws(StateStoreError) -> (snapshot: StateSnapshot<State>, held: HeldVersion) {
        let newest = try readNewest()
        return (newest, HeldVersion(version: newest.version, storeID: newest.storeID))
    }

    func follow(_ request: FollowRequest<State>) -> any BackendFollow {
        request.beforeFirstRead?()
        let sink = request.sink
        // Registered and given the versions so far under one lock: none is missed or given twice.
        let (id, replay) = contents.withLock { contents in
            defer { contents.nextFollower += 1 }
            contents.followers[contents.nextFollower] = sink
            let after = request.since ?? request.holding?.version
            let versions = after.map { after in contents.versions.keys.filter { $0 > after }.sorted() } ?? [contents.newest]
            return (contents.nextFollower, versions.map { version in
                let kept = contents.versions[version]!
                return StateSnapshot(header: kept.header, state: kept.state, fileSize: kept.size)
            })
        }
        replay.forEach { sink(.snapshot($0)) }
        return Follow { [weak self] in _ = self?.contents.withLock { $0.followers.removeValue(forKey: id) } }
    }

    func supportedWatchMode(options: WatchOptions) -> WatchMode { .inotify }

    func readerListing() throws(StateStoreError) -> ReaderListing { ReaderListing() }

    func verify() -> VerificationReport {
        VerificationReport(currentVersion: contents.withLock { $0.newest })
    }

    /// Told of every commit until stopped; its mode and counters mean nothing here.
    private final class Follow: BackendFollow {
        let stopping: @Sendable () -> Void
        init(_ stopping: @escaping @Sendable () -> Void) { self.stopping = stopping }
        func stop() { stopping() }
        var mode: WatchMode { .inotify }
        var statistics: WatchStatistics { WatchStatistics() }
    }
}
