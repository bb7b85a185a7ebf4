import Foundation

/// Times on the command line: an RFC 3339 time, or an age counted back from now.
enum TimeArgument {
    /// `2026-12-05T18:00:00Z` (fractional seconds and offsets accepted), or `90s`, `15m`, `24h`,
    /// `7d` before now; nil for anything else.
    static func date(_ text: String, now: Date = Date()) -> Date? {
        if let seconds = duration(text) { return now.addingTimeInterval(-seconds) }
        for options in [ISO8601DateFormatter.Options.withInternetDateTime, [.withInternetDateTime, .withFractionalSeconds]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// Seconds in `90s`, `15m`, `24h` or `7d` (a whole number and one unit); nil otherwise.
    static func duration(_ text: String) -> Double? {
        guard let unit = text.last, let count = Int(text.dropLast()), count >= 0, !text.dropLast().hasPrefix("+") else { return nil }
        let seconds: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let scale = seconds[unit], Double(count) * scale <= 100 * 365 * 86400 else { return nil }
        return Double(count) * scale
    }
}
