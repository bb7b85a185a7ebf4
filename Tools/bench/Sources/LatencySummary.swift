import Histogram

/// Percentiles of a set of latencies, in microseconds, from an HDR histogram.
struct LatencySummary: Codable, Sendable {
    var count: Int
    var p50: Double
    var p99: Double
    var max: Double

    /// - Parameter nanoseconds: one sample per operation.
    init(nanoseconds: [Int64]) {
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        for sample in nanoseconds { histogram.record(UInt64(Swift.max(sample, 0))) }
        count = nanoseconds.count
        p50 = Double(histogram.valueAtPercentile(50)) / 1000
        p99 = Double(histogram.valueAtPercentile(99)) / 1000
        max = Double(histogram.max) / 1000
    }

    var text: String { String(format: "p50 %.1f µs, p99 %.1f µs, max %.1f µs", p50, p99, max) }
}
