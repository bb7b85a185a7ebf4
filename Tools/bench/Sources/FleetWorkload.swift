import Foundation
import StateCoordinator
import ToolEtcd

/// Workload `fleet`: one halt confirmed across hosts. Three test hosts (network namespaces, each
/// with an etcd member with its default fsync, a mirror, and R/3 registered readers: half direct
/// on etcd, half reading the host's mirrored file), and the time from the commit until every one
/// of the R readers has acknowledged it (`waitForAcknowledgements` returned complete), beside the
/// same R readers on one host's file store, in the same run. Needs root (namespaces).
final class FleetWorkload {
    let quick: Bool
    /// Per connection, when readers applied each version after its commit (their clocks; one
    /// machine here), from the last measurement.
    private var lastAppliedAfter: [ReaderConnection: LatencySummary] = [:]

    init(quick: Bool) { self.quick = quick }

    func run(report: (BenchRow) -> Void) throws {
        guard NamespaceHosts.available else { throw BenchFailure("the fleet workload needs root, iproute2 and unshare (network namespaces)") }
        let commits = quick ? 20 : 100
        for readers in quick ? [6] : [6, 30] {
            let (local, localCommit) = try measureLocal(readers: readers, commits: commits)
            let (fleet, fleetCommit) = try measureFleet(readers: readers, commits: commits)
            let applied = lastAppliedAfter.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue) readers applied it after p50 \(BenchRow.format(lastAppliedAfter[$0]!.p50)) µs" }
            let configuration = "R=\(readers) readers on 3 hosts (half direct, half behind each host's mirror), all acknowledged"
            let baselineName = "the same R readers on one host's file store"
            let note = "commit → waitForAcknowledgements returned complete (etcd: 3 members, default fsync, one per namespace host); "
                + "the commit alone: p50 \(BenchRow.format(fleetCommit.p50)) µs on etcd, \(BenchRow.format(localCommit.p50)) µs on the file store; "
                + applied.joined(separator: ", ")
            let withinTarget: Bool = fleet.p50 <= 3.0 * local.p50
            report(BenchRow(
                workload: "fleet", configuration: configuration, metric: "p50 µs", ours: fleet.p50, baseline: local.p50,
                baselineName: baselineName, target: "≤ 3×", met: withinTarget, note: note))
            report(BenchRow(
                workload: "fleet", configuration: configuration, metric: "p99 µs", ours: fleet.p99, baseline: local.p99,
                baselineName: baselineName, note: note))
        }
    }

    /// Creates the store as soon as the new cluster has elected a leader (within a minute).
    private static func createOnceElected(_ etcd: EtcdConfiguration) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let failure: StateStoreError
            do {
                _ = try StateStore<BenchState>.create(etcd: etcd, initial: BenchState(size: 1 << 10))
                return
            } catch {
                failure = error
            }
            guard ContinuousClock.now < deadline else { throw failure }
            usleep(200_000)
        }
    }

    /// The writer's view: commit, then wait for every reader; the whole, per commit.
    private func timeCommits(_ writer: StateStore<BenchState>, readers: Int, commits: Int) throws -> (whole: LatencySummary, commit: LatencySummary) {
        var samples: [Int64] = []
        var commitSamples: [Int64] = []
        var appliedAfter: [ReaderConnection: [Int64]] = [:]
        for _ in 1...commits {
            let start = Clock.monotonic()
            let snapshot = try writer.update { $0.counter += 1 }
            commitSamples.append(Clock.monotonic() - start)
            let acknowledgements = writer.waitForAcknowledgements(of: snapshot, timeout: .seconds(30))
            samples.append(Clock.monotonic() - start)
            for reader in acknowledgements.applied {
                if let at = reader.applied?.at {
                    appliedAfter[reader.connection, default: []].append(Int64(at.timeIntervalSince(snapshot.committedAt) * 1e9))
                }
            }
            guard acknowledgements.isComplete, acknowledgements.applied.count == readers else {
                let applied: Int = acknowledgements.applied.count
                let unknown: Int = acknowledgements.unreachable.count
                let lagging: Int = acknowledgements.lagging.count
                throw BenchFailure("version \(snapshot.version): \(applied)/\(readers) acknowledged; unknown \(unknown), lagging \(lagging)")
            }
        }
        lastAppliedAfter = appliedAfter.mapValues { LatencySummary(nanoseconds: $0) }
        return (LatencySummary(nanoseconds: samples), LatencySummary(nanoseconds: commitSamples))
    }

    private func measureLocal(readers: Int, commits: Int) throws -> (whole: LatencySummary, commit: LatencySummary) {
        let dir = try BenchDirectory()
        _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 1 << 10))
        let children = try (0..<readers).map { index in
            try ChildProcess("state-bench", ["worker", "ack", "--dir", dir.path, "--until", "\(commits)", "--count", "\(index)"])
        }
        for child in children { try child.waitFor("ready") }
        let writer = try StateStore<BenchState>(directory: dir.path)
        guard try writer.readers().count == readers else { throw BenchFailure("not every local reader registered") }
        let summary = try timeCommits(writer, readers: readers, commits: commits)
        try writer.update { $0.counter += 1 }  // unmeasured: tells the readers to exit
        for child in children { _ = try child.lines() }
        return summary
    }

    private func measureFleet(readers: Int, commits: Int) throws -> (whole: LatencySummary, commit: LatencySummary) {
        let dir = try BenchDirectory()
        let hosts = try NamespaceHosts(["bench-a", "bench-b", "bench-c"])
        var running: [ChildProcess] = []
        defer { for child in running { child.kill() } }
        let bench = ChildProcess.binDirectory.appendingPathComponent("state-bench").path
        func start(_ host: Int, _ executable: String, _ arguments: [String]) throws -> ChildProcess {
            let (wrapper, wrapped) = hosts.command(host, executable, arguments)
            let child = try ChildProcess(wrapper.path, wrapped)
            running.append(child)
            return child
        }
        for host in 0..<3 {
            _ = try start(host, "/usr/bin/etcd", hosts.etcdMemberArguments(host, dataDirectory: dir.path + "/etcd-\(host)", fsync: true))
        }
        let endpoints = hosts.etcdEndpoints.joined(separator: ",")
        let etcd = try EtcdConfiguration(endpoints: hosts.etcdEndpoints)
        try Self.createOnceElected(etcd)
        for host in 0..<3 {
            try FileManager.default.createDirectory(atPath: dir.path + "/host-\(host)", withIntermediateDirectories: true)
            let mirror = try start(host, bench, ["worker", "mirror", "--etcd", endpoints, "--dir", dir.path + "/host-\(host)"])
            try mirror.waitFor("started", timeout: .seconds(60))
        }
        var readerProcesses: [ChildProcess] = []
        for index in 0..<readers {
            let host = index % 3
            let direct = (index / 3) % 2 == 0
            let arguments = direct
                ? ["worker", "ack", "--etcd", endpoints, "--until", "\(commits)", "--count", "\(index)"]
                : ["worker", "ack", "--dir", dir.path + "/host-\(host)", "--until", "\(commits)", "--count", "\(index)"]
            readerProcesses.append(try start(host, bench, arguments))
        }
        for child in readerProcesses { try child.waitFor("ready", timeout: .seconds(60)) }
        let writer = try StateStore<BenchState>(etcd: etcd)
        // Every reader registered, and every one behind a mirror published.
        let published = ContinuousClock.now + .seconds(60)
        while try writer.readers().count < readers {
            guard ContinuousClock.now < published else {
                let listing = try writer.readerListing()
                let live = listing.readers.map { "\($0.label)/\($0.connection.rawValue)@\($0.hostName)" }.sorted()
                let lost = listing.leaseLost.map(\.label) + listing.unreachableHosts.flatMap { $0.readers.map(\.label) }
                throw BenchFailure("only \(listing.readers.count) of \(readers) readers on etcd: live \(live); lease lost or unknown \(lost)")
            }
            usleep(100_000)
        }
        let summary = try timeCommits(writer, readers: readers, commits: commits)
        try writer.update { $0.counter += 1 }
        return summary
    }
}
