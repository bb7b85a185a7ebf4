import Foundation

/// Commit times as written in headers: RFC 3339, UTC, with milliseconds (`2026-11-27T14:21:04.123Z`).
enum CommitTimestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    static func format(_ date: Date) -> String { style.format(date) }

    static func parse(_ text: String) -> Date? { try? style.parse(text) }
}
