import Foundation
import Synchronization
import SystemPackage
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// `StateSnapshot.replacedAt`: the state file's change time, which the rename sets.
@Suite("When a version became current")
struct ReplacementTimeTests {
    let dir = TemporaryDirectory()

    @Test func aWatcherLearnsWhenOurWriterRenamedTheVersionIn() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        var iterator = StateObservation(.every).values(in: store).makeAsyncIterator()
        #expect(try await iterator.next()?.version == 0)
        for value in 1...20 {
            let before = Date()
            try await store.update { try $0.set(.int(Int64(value)), forKey: "n") }
            let after = Date()
            let snapshot = try #require(try await iterator.next())
            #expect(snapshot.version == UInt64(value))
            let replacedAt = try #require(snapshot.replacedAt, "a version read from the state file has its rename time")
            #expect(replacedAt <= snapshot.loadedAt)
            // Stamped by the rename, from the coarse clock: at most a tick (≤ 10 ms) early.
            #expect(replacedAt.timeIntervalSince(before) > -0.01 && after.timeIntervalSince(replacedAt) > -1e-6, "\(before) \(replacedAt) \(after)")
        }
        // A kept version's file was linked into history since: it has no rename time.
        #expect(try await store.snapshot(atVersion: 18).replacedAt == nil)
    }

    @Test func theStampIsTheRenamesNotTheWritesBeforeIt() async throws {
        _ = try await StateStore<JSONValue>.create(directory: dir.path)
        // The rename starts 30 ms after everything else the commit did: a stamp from any earlier
        // step (the temp file's write or fchmod) would be 30 ms early, the rename's at most a tick.
        let renames = Mutex<[(start: Date, end: Date)]>([])
        var options = StateStoreOptions()
        options.systemCalls.rename = { (directory, from, to) throws(Errno) in
            usleep(30_000)
            let start = Date()
            try SystemCalls.live.rename(directory, from, to)
            renames.withLock { $0.append((start, Date())) }
        }
        let store = try await StateStore<JSONValue>(directory: dir.path, options: options)
        for value in 1...10 {
            try await store.update { try $0.set(.int(Int64(value)), forKey: "n") }
            let rename = try #require(renames.withLock { $0.last })
            let replacedAt = try #require(try await store.read().replacedAt)
            #expect(
                replacedAt.timeIntervalSince(rename.start) > -0.01 && rename.end.timeIntervalSince(replacedAt) > -1e-6,
                "stamped \(replacedAt.timeIntervalSince(rename.start)) s after the rename began")
        }
    }
}
