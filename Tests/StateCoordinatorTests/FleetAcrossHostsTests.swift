import Foundation
import Synchronization
import Testing

@testable import StateCoordinator

extension ProcessTests {
    /// One halt confirmed across hosts: three test hosts (network namespaces, their own
    /// addresses and host names), each running one etcd member, a mirror and two bots (one direct
    /// on etcd, one reading its host's mirrored file; host A's is the Python package's reader).
    /// An operator on host A commits with `--await-ack all` as real processes, with real links cut.
    @Suite("A fleet across hosts: acknowledgements on etcd", .serialized, .timeLimit(.minutes(6)), .enabled(if: NetworkHosts.available))
    struct FleetAcrossHostsTests {
        @Test func aHaltIsConfirmedByEveryBotOnEveryHost() throws {
            let fleet = try Fleet()
            let halt = try fleet.operatorCommand(["set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "20", "--json"])
            #expect(halt.status == 0, "\(halt)")
            let report = try Fleet.acknowledgements(halt)
            #expect(report.applied.sorted() == fleet.allLabels, "\(halt)")
            #expect(report.unreachable.isEmpty && report.died.isEmpty && report.lagging.isEmpty, "\(halt)")
            // Each named on stderr with its host, how it reaches the store, and the time it took.
            for label in fleet.allLabels {
                let line = halt.stderr.split(separator: "\n").first { $0.contains("\(label)@") || $0.contains("\(label) (") }
                #expect(line.map { $0.contains("applied version") && $0.contains(" ms.") } == true, "\(label): \(halt.stderr)")
            }
            #expect(halt.stderr.contains("on host-c, behind its host's mirror"), "\(halt.stderr)")
            #expect(halt.stderr.contains("on host-b, direct on etcd"), "\(halt.stderr)")
        }

        @Test func aHostCutOffIsReportedUnreachableThenConfirmsWhenItComesBack() throws {
            let fleet = try Fleet()
            try fleet.hosts.setLink(2, up: false)
            // Its leases lapse (TTL 2 s, plus an election if host C led the cluster).
            let cut = try fleet.waitForListing(timeout: .seconds(30)) { listing in
                listing.unreachable.contains("host-c") && listing.live.count == 4
            }
            #expect(cut, "host C's readers never turned unknown")
            let started = ContinuousClock.now
            let halt = try fleet.operatorCommand(["set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "4", "--json"])
            let took = ContinuousClock.now - started
            #expect(halt.status == 10, "\(halt)")
            #expect(took < .seconds(12), "the wait took \(took)")
            let report = try Fleet.acknowledgements(halt)
            #expect(report.applied.sorted() == fleet.allLabels.filter { !$0.hasPrefix("bot-c") }, "\(halt)")
            #expect(report.unreachable.sorted() == ["bot-c-direct", "bot-c-local"], "\(halt)")
            #expect(report.died.isEmpty, "\(halt)")
            #expect(halt.stderr.contains("host host-c: mirror unreachable since"), "\(halt.stderr)")
            let version = try #require(report.version)
            // The cluster kept its quorum: the halt is committed.
            let current = try fleet.operatorCommand(["get", "/halt"])
            #expect(current.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "true", "\(current)")
            // Host C comes back: its mirror catches up, its bots apply the halt, a second wait confirms.
            try fleet.hosts.setLink(2, up: true)
            let again = try fleet.operatorCommand(["--etcd-timeout", "5", "readers", "--await-ack", "all", "--ack-timeout", "60", "--version", "\(version)"])
            #expect(again.status == 0, "\(again)")
            #expect(again.stderr.contains("bot-c-local (pid") && again.stderr.contains("on host-c"), "\(again.stderr)")
        }

        @Test func aBotKilledIsReportedDeadAfterItsLeaseAndItsSuccessorIsFollowed() throws {
            let fleet = try Fleet()
            fleet.killBot("bot-b-direct")
            let halt = try fleet.operatorCommand(["set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "20", "--json"])
            // Dead is not lagging: the wait ends once its lease is gone, and the others applied.
            #expect(halt.status == 0, "\(halt)")
            let report = try Fleet.acknowledgements(halt)
            #expect(report.died == ["bot-b-direct"], "\(halt)")
            #expect(halt.stderr.contains("bot-b-direct (pid") && halt.stderr.contains("died before applying"), "\(halt.stderr)")
            #expect(report.lagging.isEmpty && report.unreachable.isEmpty, "\(halt)")
            #expect(report.applied.sorted() == fleet.allLabels.filter { $0 != "bot-b-direct" }, "\(halt)")
            // A new bot with the same label is followed.
            try fleet.startDirectBot(1)
            #expect(try fleet.waitForListing { $0.live.filter { $0 == "bot-b-direct" }.count == 1 })
            let resume = try fleet.operatorCommand(["set", "/halt", "false", "--await-ack", "bot-b-direct", "--ack-timeout", "20", "--json"])
            #expect(resume.status == 0, "\(resume)")
            #expect(try Fleet.acknowledgements(resume).applied == ["bot-b-direct"], "\(resume)")
        }

        @Test func aMirrorKilledLeavesItsHostsReadersUnknownUntilItRestarts() throws {
            let fleet = try Fleet()
            fleet.killMirror(1)
            let started = ContinuousClock.now
            let unknown = try fleet.waitForListing(timeout: .seconds(30)) { listing in
                listing.unreachable.contains("host-b") && !listing.live.contains("bot-b-local")
            }
            let took = ContinuousClock.now - started
            #expect(unknown, "host B's local bot never turned unknown")
            // Within the lease's TTL (2 s), plus the leader's expiry check and our polling.
            #expect(took < .seconds(8), "took \(took)")
            let halt = try fleet.operatorCommand(["set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "3", "--json"])
            #expect(halt.status == 10, "\(halt)")
            let report = try Fleet.acknowledgements(halt)
            #expect(report.unreachable == ["bot-b-local"], "\(halt)")
            #expect(report.died.isEmpty, "\(halt)")
            #expect(halt.stderr.contains("host host-b: mirror unreachable"), "\(halt.stderr)")
            try fleet.startMirror(1)
            let again = try fleet.operatorCommand(["readers", "--await-ack", "all", "--ack-timeout", "30"])
            #expect(again.status == 0, "\(again)")
        }

        @Test func theSidecarServesTheWholeFleetAndItsPageGroupsReadersByHost() throws {
            let fleet = try Fleet()
            let sidecar = try fleet.start(
                0, Fleet.sidecar.path, ["--etcd", fleet.endpoints, "--listen", "127.0.0.1:0", "--loopback-without-token"])
            var port: String?
            let deadline = ContinuousClock.now + .seconds(60)
            while port == nil, ContinuousClock.now < deadline {
                port = String(decoding: sidecar.errorSoFar, as: UTF8.self).split(separator: "\n")
                    .first { $0.hasPrefix("state-sidecar: listening on 127.0.0.1:") }.map { String($0.split(separator: ":").last!) }
                if port == nil { usleep(50_000) }
            }
            let base = "http://127.0.0.1:\(try #require(port, "the sidecar did not start: \(String(decoding: sidecar.errorSoFar, as: UTF8.self))"))"
            let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/sidecar_client.py").path
            // /readers: every bot of every host, with its host and connection.
            let readers = try fleet.hosts.run(0, "/usr/bin/env", ["python3", client, "get", base + "/readers"])
            let list = try JSONValue(parsing: Array(readers.stdout.split(separator: "\n", maxSplits: 1).last.map(String.init)!.utf8))
            guard case .array(let entries) = list else { Issue.record("\(readers)"); return }
            let seen = Set(entries.compactMap { entry -> String? in
                guard case .string(let label)? = entry["label"], case .string(let host)? = entry["host"], case .string(let via)? = entry["connection"] else { return nil }
                return "\(label)@\(host)/\(via)"
            })
            #expect(seen == Set(["a", "b", "c"].flatMap { ["bot-\($0)-direct@host-\($0)/direct", "bot-\($0)-local@host-\($0)/mirror"] }), "\(seen)")
            // Metrics per reader and host.
            let metrics = try fleet.hosts.run(0, "/usr/bin/env", ["python3", client, "metrics", base + "/metrics"])
            #expect(metrics.stdout.contains("statecoord_fleet_reader_lag_versions{host=host-c,reader=bot-c-local,store=state,via=mirror} 0.0"), "\(metrics.stdout)")
            #expect(metrics.stdout.contains("statecoord_readers_live{store=state} 6.0"), "\(metrics.stdout)")
            // Host C cut off: unknown, on the page and in the metrics.
            try fleet.hosts.setLink(2, up: false)
            #expect(try fleet.waitForListing(timeout: .seconds(30)) { $0.unreachable == ["host-c"] })
            var unknown = ""
            let seenUnknown = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < seenUnknown {
                unknown = try fleet.hosts.run(0, "/usr/bin/env", ["python3", client, "metrics", base + "/metrics"]).stdout
                // Both of host C's leases must lapse (its mirror's may go before its direct bot's).
                if unknown.contains("statecoord_hosts_unreachable{store=state} 1.0"), unknown.contains("statecoord_readers_unknown{store=state} 2.0") { break }
                usleep(200_000)
            }
            #expect(unknown.contains("statecoord_readers_unknown{store=state} 2.0"), "\(unknown)")
            let page = try fleet.hosts.run(0, "/usr/bin/env", ["python3", client, "hosts", base + "/", "3"])
            #expect(page.status == 0, "\(page)")
            let headers = page.stdout.split(separator: "\n").map(String.init)
            #expect(headers.contains("host-a — 2 readers") && headers.contains("host-b — 2 readers"), "\(page)")
            #expect(headers.contains { $0.hasPrefix("host host-c: mirror unreachable since") }, "\(page)")
            #expect(headers.contains("rows 6"), "\(page)")
            sidecar.signal(SIGKILL)
        }

        @Test func aThousandAcknowledgementsWakeNoStoreWatcherOnAnyHost() async throws {
            let fleet = try Fleet()
            // On every host: a watcher of the store on etcd, one of the mirrored file (inotify),
            // and inotifywait on the mirrored store's directory.
            var watchers: [(String, RunningHelper)] = []
            for host in 0..<3 {
                watchers.append(("etcd watcher on \(fleet.hosts.names[host])", try fleet.start(host, CLI.url.path, fleet.etcdArguments + ["watch"])))
                watchers.append(("file watcher on \(fleet.hosts.names[host])", try fleet.start(host, CLI.url.path, ["--dir", fleet.directory(host), "watch"])))
                watchers.append(
                    ("inotifywait on \(fleet.hosts.names[host])",
                     try fleet.start(host, "/usr/bin/inotifywait", ["-m", "-q", "-e", "create,modify,attrib,close_write,moved_from,moved_to,delete", "--format", "%e %f", fleet.directory(host)])))
            }
            for (name, watcher) in watchers where !name.hasPrefix("inotifywait") {
                #expect(watcher.waitForLine { $0.contains("\"version\":0") }, "\(name)")
            }
            let before = watchers.map { $0.1.lines.count }
            // 1,000 acknowledgements: 500 by a direct reader registered from here, each written
            // on its own; 500 by host B's Python bot behind the mirror.
            let etcd = try EtcdConfiguration(endpoints: fleet.endpointList, requestTimeout: .seconds(3))
            let access = try EtcdStoreAccess.open(etcd, name: "state", options: StateStoreOptions(), forWriting: false)
            let storeID = try await ReadOnlyStateStore<JSONValue>(etcd: etcd).read().storeID
            let registration = try EtcdReaderRegistration.register(access, label: "ack-flood", loaded: nil, logger: access.logger)
            for version in 1...500 {
                registration.acknowledge(UInt64(version), storeID: storeID)
                await registration.waitUntilWritten()
            }
            let flood = try fleet.start(1, "/usr/bin/env", ["python3", "-c", Fleet.pythonMarks, fleet.directory(1), "500"])
            #expect(flood.waitForLine { $0 == "done" }, "\(String(decoding: flood.errorSoFar, as: UTF8.self))")
            // Both kinds arrived in the registry on etcd.
            #expect(try fleet.waitForListing { $0.applied["ack-flood"] == 500 && $0.applied["py-flood"] == 500 })
            // A commit afterwards reaches every watcher: they were running, and saw only it.
            #expect(try fleet.operatorCommand(["set", "/after", "1"]).status == 0)
            for (index, (name, watcher)) in watchers.enumerated() {
                #expect(watcher.waitForLine { _ in watcher.lines.count > before[index] }, "\(name) missed the commit")
                let new = watcher.lines[before[index]...]
                if name.hasPrefix("inotifywait") {
                    // Every change in the store's directory: the mirror's one commit (its temp file,
                    // renamed over the state file), nothing of the 1,000.
                    #expect(new.allSatisfy { $0.contains(" .state.tmp-") || $0.hasSuffix(" state.json") }, "\(name): \(new)")
                    #expect(new.contains("MOVED_TO state.json"), "\(name): \(new)")
                } else {
                    #expect(new.count == 1 && new.first?.contains("\"version\":1") == true, "\(name): \(Array(new))")
                }
            }
            await registration.closeAndWait()
            for (_, watcher) in watchers { watcher.signal(SIGKILL) }
        }
    }
}

/// The three test hosts with their etcd members, mirrors and bots.
final class Fleet: @unchecked Sendable {
    // @unchecked: the process table is only touched under `lock`.
    let hosts: NetworkHosts
    let root = TemporaryDirectory()
    private let lock = NSLock()
    private var processes: [String: RunningHelper] = [:]
    private var extra: [RunningHelper] = []

    static let hostNames = ["host-a", "host-b", "host-c"]
    static let sidecar = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-sidecar")
    var allLabels: [String] { Self.hostNames.flatMap { ["bot-\($0.last!)-direct", "bot-\($0.last!)-local"] }.sorted() }
    var endpointList: [String] { hosts.hosts.etcdEndpoints }
    var endpoints: String { endpointList.joined(separator: ",") }
    /// Global options for a process on etcd: short timeouts, short leases.
    var etcdArguments: [String] { ["--etcd", endpoints, "--etcd-timeout", "1", "--lease-ttl", "2"] }

    init() throws {
        hosts = try NetworkHosts(Self.hostNames)
        for index in 0..<3 { try startMember(index) }
        try waitUntilHealthy()
        let created = try operatorCommand(["init"])
        guard created.status == 0 else { throw EtcdClusterError(message: "init: \(created)") }
        for index in 0..<3 {
            try FileManager.default.createDirectory(atPath: directory(index), withIntermediateDirectories: true)
            try startMirror(index)
            try startDirectBot(index)
            try startLocalBot(index)
        }
        guard try waitForListing(timeout: .seconds(60), { Set($0.live) == Set(self.allLabels) }) else {
            throw EtcdClusterError(message: "the fleet's six bots did not all register: \(try operatorCommand(["readers", "--all", "--json"]))")
        }
    }

    deinit {
        let all = lock.withLock { Array(processes.values) + extra }
        for process in all { process.signal(SIGKILL) }
        for process in all { _ = process.waitForExit(timeout: .seconds(10)) }
    }

    func directory(_ index: Int) -> String { root.file(Self.hostNames[index]) }

    func start(_ index: Int, _ executable: String, _ arguments: [String]) throws -> RunningHelper {
        let process = try hosts.start(index, executable, arguments)
        lock.withLock { extra.append(process) }
        return process
    }

    private func keep(_ name: String, _ process: RunningHelper) {
        lock.withLock { processes[name] = process }
    }

    private func startMember(_ index: Int) throws {
        let process = try hosts.start(
            index, "/usr/bin/etcd", hosts.hosts.etcdMemberArguments(index, dataDirectory: root.file("etcd-\(index)"), fsync: false))
        keep("etcd-\(index)", process)
    }

    private func waitUntilHealthy() throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let health = try hosts.run(0, "/usr/bin/etcdctl", ["--endpoints", endpoints, "--command-timeout", "2s", "endpoint", "health"])
            if health.status == 0 { return }
            usleep(200_000)
        }
        throw EtcdClusterError(message: "the fleet's etcd members did not become healthy")
    }

    func startMirror(_ index: Int) throws {
        let mirror = try hosts.start(index, CLI.url.path, etcdArguments + ["mirror", "--dir", directory(index)])
        guard mirror.waitForLine(where: { $0.contains(#""event":"started""#) }) else {
            throw EtcdClusterError(message: "mirror on \(Self.hostNames[index]) did not start: \(String(decoding: mirror.errorSoFar, as: UTF8.self))")
        }
        keep("mirror-\(index)", mirror)
    }

    func startDirectBot(_ index: Int) throws {
        let label = "bot-\(Self.hostNames[index].last!)-direct"
        let bot = try hosts.start(index, CLI.url.path, etcdArguments + ["watch", "--as", label, "--ack"])
        guard bot.waitForLine(where: { $0.contains("\"version\"") }) else { throw EtcdClusterError(message: "\(label) did not start") }
        keep(label, bot)
    }

    private func startLocalBot(_ index: Int) throws {
        let label = "bot-\(Self.hostNames[index].last!)-local"
        let bot: RunningHelper
        if index == 0 {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/fleet_bot.py").path
            bot = try hosts.start(index, "/usr/bin/env", ["python3", script, directory(index), label])
            guard bot.waitForLine(where: { $0.hasPrefix("ready") }) else {
                throw EtcdClusterError(message: "the Python bot did not start: \(String(decoding: bot.errorSoFar, as: UTF8.self))")
            }
        } else {
            bot = try hosts.start(index, CLI.url.path, ["--dir", directory(index), "watch", "--as", label, "--ack"])
            guard bot.waitForLine(where: { $0.contains("\"version\"") }) else { throw EtcdClusterError(message: "\(label) did not start") }
        }
        keep(label, bot)
    }

    func killBot(_ label: String) {
        let bot = lock.withLock { processes.removeValue(forKey: label) }
        bot?.signal(SIGKILL)
        _ = bot?.waitForExit(timeout: .seconds(10))
    }

    func killMirror(_ index: Int) { killBot("mirror-\(index)") }

    /// statectl on host A (the operator's), on the store on etcd.
    func operatorCommand(_ arguments: [String]) throws -> CLI.Result {
        try hosts.run(0, CLI.url.path, etcdArguments + arguments)
    }

    /// What `statectl readers --all --json` says, in short.
    struct Listing {
        var live: [String] = []
        var applied: [String: UInt64] = [:]
        var unreachable: [String] = []
    }

    func listing() throws -> Listing? {
        let result = try operatorCommand(["readers", "--all", "--json"])
        guard result.status == 0, let value = try? JSONValue(parsing: Array(result.stdout.utf8)) else { return nil }
        var listing = Listing()
        if case .array(let readers)? = value["readers"] {
            for reader in readers {
                guard case .string(let label)? = reader["label"] else { continue }
                listing.live.append(label)
                if case .int(let applied)? = reader["appliedVersion"] { listing.applied[label] = UInt64(applied) }
            }
        }
        if case .array(let hosts)? = value["unreachableHosts"] {
            listing.unreachable = hosts.compactMap { if case .string(let host)? = $0["host"] { host } else { nil } }
        }
        return listing
    }

    /// Polls the listing (a counter, not a sleep) until `condition` holds.
    func waitForListing(timeout: Duration = .seconds(30), _ condition: (Listing) -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let listing = try listing(), condition(listing) { return true }
            usleep(100_000)
        }
        return false
    }

    /// The labels in each list of a `--json` acknowledgement report.
    struct Report {
        var version: UInt64?
        var applied: [String] = []
        var lagging: [String] = []
        var died: [String] = []
        var unreachable: [String] = []
    }

    static func acknowledgements(_ result: CLI.Result) throws -> Report {
        let document = try JSONValue(parsing: Array(result.stdout.utf8))
        let value = try #require(document["acknowledgements"], "\(result)")
        func labels(_ key: String) -> [String] {
            guard case .array(let readers)? = value[key] else { return [] }
            return readers.compactMap { if case .string(let label)? = $0["label"] { label } else { nil } }
        }
        var report = Report(applied: labels("applied"), lagging: labels("lagging"), died: labels("died"), unreachable: labels("unreachable"))
        if case .int(let version)? = value["version"] { report.version = UInt64(version) }
        return report
    }

    /// A Python reader registered as py-flood on a store directory, marking N applied versions
    /// one after another (each a record renamed into the local registry).
    static let pythonMarks = """
        import os, sys
        sys.path.insert(0, \(String(reflecting: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/python").path)))
        from statecoordinator import Reader, Store
        reader = Reader(Store(sys.argv[1]), label="py-flood")
        store_id = reader.current.store_id
        for version in range(1, int(sys.argv[2]) + 1):
            reader.registration.mark("applied", version, store_id)
        print("done", flush=True)
        sys.stdin.read()  # registered until the test ends
        """
}
