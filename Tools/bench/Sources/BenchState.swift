import Foundation

/// The state every workload commits: a counter (the correctness check) and a payload that sets
/// the state's size.
struct BenchState: Codable, Sendable {
    var counter: Int64 = 0
    var payload: String

    init(size: Int) {
        payload = String(repeating: "x", count: max(0, size - 32))
    }
}

/// Monotonic and wall-clock nanoseconds, comparable across processes on one host.
enum Clock {
    static func monotonic() -> Int64 { read(CLOCK_MONOTONIC) }
    static func realtime() -> Int64 { read(CLOCK_REALTIME) }
    /// CPU time this process has used, all threads.
    static func processCPU() -> Int64 { read(CLOCK_PROCESS_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// A fresh directory for one measurement, removed afterwards.
final class BenchDirectory {
    let path: String

    init() throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/state-bench-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { throw BenchFailure("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
