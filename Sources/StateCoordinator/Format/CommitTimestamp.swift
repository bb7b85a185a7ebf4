import Foundation

/// Commit times as written in headers: RFC 3339, UTC, with milliseconds (`2026-11-27T14:21:04.123Z`).
enum CommitTimestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, milliseconds truncated, as `ISO8601FormatStyle` writes it:
    /// written directly (every commit writes one, and the style's calendar arithmetic cost more
    /// than the rest of a small commit's header). Dates before 1970 or after 9999 go through the
    /// style.
    static func format(_ date: Date) -> String {
        // Whole seconds, then the fraction's milliseconds truncated, both from the interval a
        // `Date` holds (since 2001), as the style computes them: from the 1970-based interval, or
        // by multiplying first, a few instants in 100,000 come out a millisecond early.
        let interval = date.timeIntervalSinceReferenceDate
        let whole = interval.rounded(.down)
        guard whole.isFinite, whole >= -978_307_200, whole < 253_402_300_800 - 978_307_200 else { return style.format(date) }
        let fraction = Int((interval - whole) * 1e9) / 1_000_000
        let (days, secondOfDay) = (Int(whole) + 978_307_200).floorDivided(by: 86_400)
        let inDay = secondOfDay * 1000 + min(999, fraction)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at start: Int, digits: Int) {
            var value = value
            for index in stride(from: start + digits - 1, through: start, by: -1) {
                out[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        out[4] = UInt8(ascii: "-")
        put(month, at: 5, digits: 2)
        out[7] = UInt8(ascii: "-")
        put(day, at: 8, digits: 2)
        out[10] = UInt8(ascii: "T")
        put(inDay / 3_600_000, at: 11, digits: 2)
        out[13] = UInt8(ascii: ":")
        put(inDay / 60_000 % 60, at: 14, digits: 2)
        out[16] = UInt8(ascii: ":")
        put(inDay / 1000 % 60, at: 17, digits: 2)
        out[19] = UInt8(ascii: ".")
        put(inDay % 1000, at: 20, digits: 3)
        out[23] = UInt8(ascii: "Z")
        return String(decoding: out, as: UTF8.self)
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// civil_from_days, the inverse of ``daysSinceEpoch(year:month:day:)``).
    private static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Parses the exact form this package writes directly (every reload parses one, and the
    /// general parser costs more than the rest of a small reload); anything else (a foreign
    /// writer's offset or precision) goes through the general RFC 3339 parser.
    static func parse(_ text: String) -> Date? {
        fastParse(text) ?? (try? style.parse(text))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as this package writes it.
    private static func fastParse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[19] == UInt8(ascii: "."), bytes[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let millisecond = number(20..<23), (1...12).contains(month), (1...31).contains(day), hour < 24,
            minute < 60, second < 61
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Double(((days * 24 + hour) * 60 + minute) * 60 + second) + Double(millisecond) / 1000
        // Half a microsecond up: a double near 1.7e9 cannot hold .999 exactly, and formatting
        // truncates to milliseconds, so without it the time would print back one millisecond early.
        return Date(timeIntervalSince1970: seconds + 0.000_000_5)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Int {
    /// The quotient rounded down and the remainder that goes with it (never negative).
    fileprivate func floorDivided(by divisor: Int) -> (quotient: Int, remainder: Int) {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
