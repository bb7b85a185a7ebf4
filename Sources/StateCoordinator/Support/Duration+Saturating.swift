import Dispatch

extension Duration {
    /// The duration in whole nanoseconds, clamped to `0...Int64.max`: a caller's `.seconds(Int64.max)`
    /// or a negative interval never traps an arithmetic overflow.
    var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (wholeSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (total, overflowAdding) = wholeSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowAdding ? .max : max(0, total)
    }

    /// The duration in whole microseconds, clamped to `0...Int64.max`.
    var saturatingMicroseconds: Int64 { saturatingNanoseconds / 1_000 }

    /// The duration as an interval for Dispatch, clamped: anything beyond about 292 years (or
    /// `Int.max` nanoseconds) is "never" for every purpose here.
    var dispatchInterval: DispatchTimeInterval {
        .nanoseconds(Int(clamping: saturatingNanoseconds))
    }
}
