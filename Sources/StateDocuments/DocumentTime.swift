import Foundation

/// How the documents write times: ISO 8601 in UTC, with milliseconds.
public enum DocumentTime {
    /// `2026-12-02T03:04:05.678Z`.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
