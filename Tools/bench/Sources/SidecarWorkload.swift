import Foundation
import Synchronization
@_spi(FaultInjection) @_spi(Diagnostics) import StateCoordinator

/// Workload 8: the sidecar. For 1 and 100 SSE clients of `/events`, the time from a commit's
/// rename until each client received the version, against the C inotify reader following the
/// same commits in the same run; the sidecar's CPU per commit; and its resident memory before
/// and after 10,000 commits with 100 streams open.
struct SidecarWorkload {
    let quick: Bool

    func run(report: (BenchRow) -> Void) throws {
        for clients in [1, 100] {
            let commits = quick ? 200 : 1000
            let result = try measure(clients: clients, commits: commits, pacing: .milliseconds(2))
            for (metric, ours, base) in [("p50 µs", result.sse.p50, result.floor.p50), ("p99 µs", result.sse.p99, result.floor.p99)] {
                report(BenchRow(
                    workload: "sidecar", configuration: "\(clients) SSE client\(clients == 1 ? "" : "s"), 1 commit / 2 ms",
                    metric: metric, ours: ours, baseline: base, baselineName: "C inotify reader, same commits",
                    note: "rename → the client read the event's id line; sidecar CPU per commit \(BenchRow.format(result.cpuPerCommit)) µs"))
            }
        }
        let commits = quick ? 2000 : 10_000
        let memory = try measure(clients: 100, commits: commits, pacing: .zero)
        let samples = memory.rssSamples.map { BenchRow.format($0) }.joined(separator: " ")
        report(BenchRow(
            workload: "sidecar", configuration: "RSS after \(commits) commits at full speed, 100 streams open", metric: "MiB",
            ours: memory.rssAfter, baseline: memory.rssSamples.first ?? memory.rssBefore,
            baselineName: "RSS after the first tenth of the commits (warm)",
            note: "flat means the ratio stays near 1; before the commits \(BenchRow.format(memory.rssBefore)), each tenth: \(samples)"))
        report(BenchRow(
            workload: "sidecar", configuration: "peak RSS over \(commits) commits at full speed, 100 streams open", metric: "MiB",
            ours: memory.rssSamples.max() ?? 0, baseline: memory.rssSamples.first ?? memory.rssBefore,
            baselineName: "RSS after the first tenth of the commits (warm)", note: "sampled every tenth"))
    }

    struct Result {
        var sse: LatencySummary
        var floor: LatencySummary
        var cpuPerCommit: Double
        var rssBefore: Double
        var rssAfter: Double
        /// RSS after each tenth of the commits.
        var rssSamples: [Double]
    }

    private func measure(clients: Int, commits: Int, pacing: Duration) throws -> Result {
        let dir = try BenchDirectory()
        _ = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 4 << 10))
        let sidecar = try SidecarProcess(directory: dir.path)
        defer { sidecar.stop() }
        let floor = try ChildProcess("state-floor", ["watch", dir.path, "state.json", "\(commits)"])
        try floor.waitFor("ready")
        let streams = try (0..<clients).map { _ in try SSEClient(port: sidecar.port, until: commits) }
        // Every stream has its first event (version 0) before the measured commits.
        let deadline = ContinuousClock.now + .seconds(60)
        while sidecar.openStreams() < clients, ContinuousClock.now < deadline { usleep(10_000) }
        usleep(200_000)
        let rssBefore = sidecar.residentMiB()
        let cpuBefore = sidecar.cpuNanoseconds()
        let renames = RenameClock()
        let writer = try StateStore<BenchState>(
            directory: dir.path, options: renames.recording(StateStoreOptions(durability: pacing == .zero ? .none : .full)))
        let start = Clock.monotonic()
        var rssSamples: [Double] = []
        for commit in 1...commits {
            try writer.update { $0.counter += 1 }
            if commit % max(1, commits / 10) == 0 { rssSamples.append(sidecar.residentMiB()) }
            if pacing > .zero {
                let next = start + Int64(commit) * (pacing.components.attoseconds / 1_000_000_000 + pacing.components.seconds * 1_000_000_000)
                let wait = next - Clock.monotonic()
                if wait > 0 { usleep(UInt32(wait / 1000)) }
            }
        }
        let arrivals = streams.map { $0.finish() }
        let cpu = sidecar.cpuNanoseconds() - cpuBefore
        let rssAfter = sidecar.residentMiB()
        let sent = renames.sent
        var latencies: [Int64] = []
        for received in arrivals { latencies += PropagationWorkload.staleness(sent: sent, deliveries: received) }
        let floorDeliveries = try floor.deliveries()
        return Result(
            sse: LatencySummary(nanoseconds: latencies),
            floor: LatencySummary(nanoseconds: PropagationWorkload.staleness(sent: sent, deliveries: floorDeliveries)),
            cpuPerCommit: Double(cpu) / Double(commits) / 1000, rssBefore: rssBefore, rssAfter: rssAfter, rssSamples: rssSamples)
    }
}

/// The `state-sidecar` executable beside the benchmark, on a port the kernel chose.
final class SidecarProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let errors = Pipe()

    init(directory: String) throws {
        process.executableURL = ChildProcess.binDirectory.appendingPathComponent("state-sidecar")
        process.arguments = ["--dir", directory, "--listen", "127.0.0.1:0", "--max-streams", "200", "--loopback-without-token"]
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var text = ""
        while !text.contains("state-sidecar: listening on 127.0.0.1:") {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchFailure("the sidecar ended: \(text)") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let line = text.split(separator: "\n").first { $0.hasPrefix("state-sidecar: listening on 127.0.0.1:") }!
        port = Int(line.split(separator: ":").last!)!
        // Keep draining its stderr so that it never blocks on a full pipe.
        let handle = errors.fileHandleForReading
        Thread.detachNewThread { while !handle.availableData.isEmpty {} }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// Open /events connections, from /metrics-free bookkeeping: counted by ESTABLISHED sockets to its port.
    func openStreams() -> Int {
        let tcp = ProcFile.text("/proc/net/tcp") ?? ""
        let hexPort = String(format: ":%04X", port)
        return tcp.split(separator: "\n").filter { $0.split(separator: " ").dropFirst().first?.hasSuffix(hexPort) == true && $0.contains(" 01 ") }.count
    }

    func residentMiB() -> Double {
        let status = ProcFile.text("/proc/\(process.processIdentifier)/status") ?? ""
        let kib = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
        return kib / 1024
    }

    /// utime + stime of the process, in nanoseconds.
    func cpuNanoseconds() -> Int64 {
        let stat = ProcFile.text("/proc/\(process.processIdentifier)/stat") ?? ""
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)
        return ticks * 1_000_000_000 / Int64(sysconf(Int32(_SC_CLK_TCK)))
    }
}
