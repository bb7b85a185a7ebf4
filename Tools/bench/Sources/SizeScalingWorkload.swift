import Foundation
@_spi(Diagnostics) import StateCoordinator

/// Workload 5: commit and reload latency and reader memory for states of 1 KiB to 16 MiB, and a
/// reader's memory after many reloads (it must not grow).
struct SizeScalingWorkload {
    let quick: Bool

    static let sizes = [1 << 10, 64 << 10, 1 << 20, 16 << 20]

    func run(report: (BenchRow) -> Void) throws {
        var smallReaderKiB: Double?
        for size in Self.sizes {
            let dir = try BenchDirectory()
            let store = try StateStore<BenchState>.create(
                directory: dir.path, initial: BenchState(size: size), settings: StoreSettings(maximumStateBytes: 64 << 20))
            let count = size >= 16 << 20 ? (quick ? 5 : 15) : (quick ? 20 : 100)
            var commits: [Int64] = [], reloads: [Int64] = [], plainReads: [Int64] = []
            for _ in 0..<count {
                var start = Clock.monotonic()
                try store.update { $0.counter += 1 }
                commits.append(Clock.monotonic() - start)
                start = Clock.monotonic()
                _ = try store.read()
                reloads.append(Clock.monotonic() - start)
                plainReads.append(try PlainReload.time(dir.path + "/state.json"))
            }
            let fileSize = try store.read().fileSize
            let floorDir = try BenchDirectory()
            let floor = try WorkerTiming(lines: ChildProcess(
                "state-floor", ["commit", floorDir.path, "\(count)", "\(fileSize)", "full"]).lines()).latencies
            let label = size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB"
            report(BenchRow(
                workload: "size", configuration: label, metric: "commit p50 µs", ours: LatencySummary(nanoseconds: commits).p50,
                baseline: LatencySummary(nanoseconds: floor).p50, baselineName: "C floor"))
            let reload = LatencySummary(nanoseconds: reloads).p50, plain = LatencySummary(nanoseconds: plainReads).p50
            report(BenchRow(
                workload: "size", configuration: label, metric: "reload p50 µs", ours: reload, baseline: plain,
                baselineName: "read + SHA-256 + JSONSerialization", target: "≤ 2×", met: reload <= 2 * plain,
                note: "ours: read + verify (SHA-256) + decode into the typed state"))
            // Memory once the reader has followed a few commits: a reload needs the file's bytes
            // and the new state while the old state is still current, and the allocator keeps
            // what was freed, so memory right after the first read would understate it.
            // A process's resident size varies by a few hundred KiB from run to run (thread stacks,
            // allocator arenas), as much as a 64 KiB state's share: take the median of 3 readers.
            let followed = 3
            var readers: [ReaderMemory] = []
            for _ in 0..<3 {
                readers.append(try ReaderMemory.measure(directory: dir.path, finalVersion: try store.read().version + UInt64(followed)) {
                    for _ in 0..<followed { try store.update { $0.counter += 1 } }
                })
            }
            let reader = readers.sorted { $0.finalKiB < $1.finalKiB }[1]
            if size == 1 << 10 { smallReaderKiB = reader.finalKiB }
            let overKiB = reader.finalKiB - (smallReaderKiB ?? reader.finalKiB)
            let ratio = overKiB * 1024 / Double(fileSize)
            report(BenchRow(
                workload: "size", configuration: label, metric: "reader RSS over a 1 KiB reader, × file size",
                ours: ratio, target: size >= 64 << 10 ? "≤ 4×" : nil, met: size >= 64 << 10 ? ratio <= 4 : nil,
                note: String(
                    format: "median of 3 readers: RSS %.0f KiB after following %d commits (%.0f KiB at the first snapshot), file %d bytes",
                    reader.finalKiB, followed, reader.loadedKiB, fileSize)))
        }
        try reportGrowth(report: report)
    }

    /// A reader following 10,000 commits (1,000 in a quick run) of a 64 KiB state after a warm-up
    /// of as many: the allocator's per-thread arenas fill during the first few thousand reloads
    /// (a 40,000-reload run was flat from 15,000 on), so growth is measured after them; the
    /// note gives the memory before the warm-up too.
    private func reportGrowth(report: (BenchRow) -> Void) throws {
        let dir = try BenchDirectory()
        let store = try StateStore<BenchState>.create(directory: dir.path, initial: BenchState(size: 64 << 10))
        let commits = quick ? 1_000 : 10_000
        let reader = try ReaderMemory.measure(directory: dir.path, finalVersion: UInt64(2 * commits), warmup: UInt64(commits)) {
            for _ in 0..<(2 * commits) { try store.update { $0.counter += 1 } }
        }
        report(BenchRow(
            workload: "size", configuration: "64 KiB, \(commits) commits after \(commits) of warm-up",
            metric: "reader RSS after ÷ before", ours: reader.finalKiB / reader.warmKiB, target: "≤ 1.05×",
            met: reader.finalKiB <= reader.warmKiB * 1.05,
            note: String(format: "%.0f KiB at the first snapshot, %.0f KiB after warm-up, %.0f KiB at the end; %d reloads",
                reader.loadedKiB, reader.warmKiB, reader.finalKiB, reader.reloads)))
    }
}

/// A `worker hold` process: a StateReader whose resident memory is read from /proc.
struct ReaderMemory {
    var loadedKiB: Double
    var warmKiB: Double
    var finalKiB: Double
    var reloads: Int

    static func measure(
        directory: String, finalVersion: UInt64, warmup: UInt64? = nil, writer: (() throws -> Void)?
    ) throws -> ReaderMemory {
        let child = try ChildProcess(
            "state-bench",
            ["worker", "hold", "--dir", directory, "--until", "\(finalVersion)"] + (warmup.map { ["--warmup", "\($0)"] } ?? []))
        try child.waitFor("ready")
        try writer?()
        var values: [String: Double] = [:]
        for line in try child.lines() {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = Double(fields[1]) { values[String(fields[0])] = value }
        }
        guard let loaded = values["loaded"], let final = values["final"] else { throw BenchFailure("reader reported no memory") }
        return ReaderMemory(
            loadedKiB: loaded, warmKiB: values["warm"] ?? loaded, finalKiB: final, reloads: Int(values["reloads"] ?? 0))
    }

    /// VmRSS of this process, in KiB.
    static func residentKiB() -> Double {
        let status = ProcFile.text("/proc/self/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
    }
}
