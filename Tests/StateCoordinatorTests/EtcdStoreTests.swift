import Foundation
import Synchronization
import Testing

@testable import StateCoordinator

/// The store on a real etcd (Debian's etcd-server 3.4, started by each test on loopback ports).
@Suite("A store on etcd", .serialized, .timeLimit(.minutes(3)))
struct EtcdStoreTests {
    struct Risk: Codable, Sendable, Equatable {
        var halt = false
        var maxPosition = 100
    }

    @Test func createReadUpdateAndCompareAndSwap() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<Risk>.create(etcd: etcd, initial: Risk())
        #expect(try store.read().version == 0)
        let halted = try store.update { $0.halt = true }
        #expect(halted.version == 1 && halted.state.halt)
        // The key holds exactly a state file's bytes: the header line, then the state.
        let raw = cluster.etcdctl(["get", "--print-value-only", "/statecoord/v1/state/state"])
        let lines = raw.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("\"version\":1") && lines[1] == #"{"halt":true,"maxPosition":100}"#, "\(raw)")
        // A second writer (another process would be the same) sees it, and a stale expectation fails at once.
        let other = try StateStore<Risk>(etcd: etcd)
        #expect(try other.read().state.halt)
        #expect(throws: StateStoreError.self) { try other.update(expecting: 0) { $0.maxPosition = 1 } }
        do {
            try other.update(expecting: 0) { $0.maxPosition = 1 }
        } catch let error as StateStoreError {
            #expect(error.code == .conflict && error.currentVersion == 1)
        }
        #expect(try other.update(expecting: 1) { $0.maxPosition = 250 }.version == 2)
        // The first writer's next update applies on top of the other's: nothing lost.
        let next = try store.update { $0.maxPosition += 1 }
        #expect(next.version == 3 && next.state == Risk(halt: true, maxPosition: 251))
        // create refuses an existing store; openOrCreate opens it.
        #expect(throws: StateStoreError.self) { try StateStore<Risk>.create(etcd: etcd, initial: Risk()) }
        #expect(try StateStore<Risk>.openOrCreate(etcd: etcd, initial: Risk()).read().version == 3)
        #expect(try ReadOnlyStateStore<Risk>(etcd: etcd).verify().isHealthy)
    }

    /// A store object's next commit starts from the version its last one wrote, without a read:
    /// never answered from it when another writer moved on (a refusal is decided on the newest).
    @Test func aCommitAfterOurOwnStartsFromItButNeverAnswersFromAStaleOne() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let mine = try StateStore<Risk>.create(etcd: etcd, initial: Risk())
        let other = try StateStore<Risk>(etcd: etcd)
        #expect(try mine.update { $0.halt = true }.version == 1)
        #expect(try other.update { $0.halt = false }.version == 2)
        // Remembered: halt true at version 1. A mutation that refuses a halted state must see version 2.
        let resumed = try mine.update { risk in
            if risk.halt { throw StateStoreError(.invalidArgument, "halted") }
            risk.maxPosition = 7
        }
        #expect(resumed.version == 3 && resumed.state == Risk(halt: false, maxPosition: 7))
        #expect(try other.update { $0.maxPosition = 8 }.version == 4)
        // A compare-and-swap on the newest version holds, though the remembered one is older.
        #expect(try mine.update(expecting: 4) { $0.maxPosition = 9 }.version == 5)
        // Unchanged on the newest state: answered with it, not with the remembered one.
        #expect(try other.update { $0.maxPosition = 10 }.version == 6)
        let unchanged = try mine.update { $0.maxPosition = 10 }
        #expect(unchanged.version == 6 && unchanged.state.maxPosition == 10)
        // And a stale expectation still fails with the newest version.
        do {
            try mine.update(expecting: 5) { $0.maxPosition = 11 }
            Issue.record("a stale expectation was committed")
        } catch let error as StateStoreError {
            #expect(error.code == .conflict && error.currentVersion == 6)
        }
        #expect(try ReadOnlyStateStore<Risk>(etcd: etcd).read().state == Risk(halt: false, maxPosition: 10))
    }

    @Test func historyIsKeptAsKeysAndRollbackCommitsAKeptVersion() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<Risk>.create(etcd: etcd, initial: Risk(), settings: StoreSettings(keepHistory: 3))
        for position in 1...5 { try store.update { $0.maxPosition = position } }
        let listing = try store.historyListing()
        #expect(listing.entries.map(\.version) == [4, 3, 2] && listing.damaged.isEmpty)
        #expect(try store.snapshot(atVersion: 3).state.maxPosition == 3)
        #expect(throws: StateStoreError.self) { try store.snapshot(atVersion: 1) }
        let rolledBack = try store.rollback(to: 2)
        #expect(rolledBack.version == 6 && rolledBack.state.maxPosition == 2)
        // Turned off: the kept versions go with the commit that turns it off.
        try store.setHistoryRetention(keeping: 0)
        #expect(try store.historyListing().entries.isEmpty)
        #expect(cluster.etcdctl(["get", "--prefix", "--keys-only", "/statecoord/v1/state/history/"]).stdout.isEmpty)
    }

    @Test func theSchemaIsAKeyOfItsOwnCheckedByEveryWriter() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["maxPosition": 1])
        let schema = try JSONSchema(["type": "object", "properties": ["maxPosition": ["type": "integer", "maximum": 1000]]])
        try store.setSchema(schema)
        do {
            try store.update { try $0.set(.int(5000), forKey: "maxPosition") }
            Issue.record("a state against the schema was committed")
        } catch let error as StateStoreError {
            #expect(error.code == .schemaViolation)
        }
        #expect(try store.read().state["maxPosition"]?.intValue == 1)
        #expect(try store.schema() == schema)
        let keys = cluster.etcdctl(["get", "--prefix", "--keys-only", "/statecoord/v1/state/schema/"]).stdout
        #expect(keys.contains("/statecoord/v1/state/schema/\(schema.checksum)"), "\(keys)")
    }

    @Test func aReaderFollowsEveryCommitAndEveryDeliveryFillsFromHistory() async throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try await StateStore<Risk>.create(etcd: etcd, initial: Risk(), settings: StoreSettings(keepHistory: 100))
        let reader = try await StateObservation().reader(in: try await ReadOnlyStateStore<Risk>(etcd: etcd))
        defer { reader.close() }
        guard case .etcd = reader.mode else { Issue.record("mode \(reader.mode)"); return }
        var every = StateObservation(.every).values(in: store).makeAsyncIterator()
        #expect(try await every.next()?.version == 0)
        for position in 1...20 { try await store.update { $0.maxPosition = position } }
        for expected in 1...20 {
            let snapshot = try #require(try await every.next())
            #expect(snapshot.version == UInt64(expected) && snapshot.state.maxPosition == expected)
        }
        #expect(await eventually { reader.current.version == 20 })
        // From a past version: the kept ones first, in order.
        var since = StateObservation(.after(15)).values(in: store).makeAsyncIterator()
        for expected in 16...20 { #expect(try await since.next()?.version == UInt64(expected)) }
    }

    @Test func eightProcessesIncrementingTwoHundredTimesEachCountExactly1600() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        _ = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0])
        let writers = try (0..<8).map { index in
            try RunningHelper(["etcd-incr", cluster.endpoints, "200", "writer-\(index)"])
        }
        var versions: [UInt64] = []
        for writer in writers {
            let (status, stdout, stderr) = writer.waitForExit()
            #expect(status == 0, "\(stderr)")
            for line in stdout.split(separator: "\n") where line != "done" {
                let fields = line.split(separator: " ")
                let version = try #require(UInt64(fields[0]))
                #expect(fields.count == 2 && UInt64(fields[1]) == version, "counter and version disagree: \(line)")
                versions.append(version)
            }
        }
        #expect(versions.sorted() == Array(1...1600), "each version once: \(versions.count) acknowledged")
        let final = try ReadOnlyStateStore<JSONValue>(etcd: etcd).read()
        #expect(final.version == 1600 && final.state["counter"]?.intValue == 1600)
    }

    @Test func aStoppedClusterFailsEveryCommandWithinItsTimeoutNamingTheEndpoints() throws {
        let cluster = try EtcdCluster()
        let statectl = CLI(directory: cluster.directory.path)
        let base = ["--etcd", cluster.endpoints, "--etcd-timeout", "2"]
        #expect(try statectl.run(base + ["init"]).status == 0)
        #expect(try statectl.run(base + ["set", "/halt", "true"]).status == 0)
        cluster.stopAll()
        let commands: [[String]] = [
            ["get"], ["get", "--meta"], ["set", "/halt", "false"], ["incr", "/n"], ["delete", "/halt"], ["status"], ["history"],
            ["show", "1"], ["verify"], ["put"], ["patch"], ["rollback", "--to", "0"], ["schema", "get"],
        ]
        for command in commands {
            let start = ContinuousClock.now
            let result = try statectl.run(base + command, stdin: command == ["put"] ? Data("{}".utf8) : command == ["patch"] ? Data("[]".utf8) : nil)
            let took = ContinuousClock.now - start
            #expect(result.status == 12, "\(command): \(result)")
            #expect(result.stderr.contains(cluster.members[0].clientURL) && result.oneDiagnosticLine, "\(command): \(result)")
            // Each member gets its timeout, and the process its start-up.
            #expect(took < .seconds(10), "\(command) took \(took)")
        }
        // Nothing half-written: back up, the store is as it was.
        try cluster.start(0)
        try cluster.waitUntilHealthy()
        let meta = try statectl.run(base + ["get", "--meta"])
        #expect(meta.status == 0 && meta.stdout.contains("\"version\" : 1"), "\(meta)")
        #expect(try statectl.run(base + ["get", "/halt"]).stdout == "true\n")
    }

    @Test func badEndpointsAndOptionsAreRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let statectl = CLI(directory: dir.path)
        for (arguments, fragment) in [
            (["--etcd", "localhost", "get"], "names no port"),
            (["--etcd", "ftp://h:1", "get"], "neither http nor https"),
            (["--etcd", "http://h:99999", "get"], "from 1 to 65535"),
            (["--cacert", "/x", "get"], "give --etcd URL"),
            (["--etcd", "http://127.0.0.1:1", "--dir", "/tmp", "get"], "two different stores"),
            (["--etcd", "http://127.0.0.1:1", "--etcd-prefix", "nope", "get"], "must start with"),
            (["--etcd", "http://127.0.0.1:1", "--cert", "/c", "get"], "needs its key"),
        ] {
            let result = try statectl.run(arguments)
            #expect(result.status == 2 && result.stderr.contains(fragment), "\(arguments): \(result)")
        }
    }
}
