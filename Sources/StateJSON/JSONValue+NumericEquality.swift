import Foundation

/// Equality and numeric order as JSON (and JSON Schema, and Python's `jsonschema`) define them:
/// used by a patch's `test` and by the schema validator.
extension JSONValue {
    /// Whether the value is a number (an integer, a double, or an integer beyond Int64).
    package var isNumber: Bool {
        switch self {
        case .int, .double, .largeInteger: true
        default: false
        }
    }

    /// JSON equality: numbers by value (`1` equals `1.0`, never `true`), strings by code points,
    /// arrays in order, objects by members.
    package func schemaEquals(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.schemaEquals($1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { value.schemaEquals($0) } ?? false }
        default:
            guard isNumber, other.isNumber else { return false }
            return compareNumber(to: other) == .orderedSame
        }
    }

    /// Exact numeric order (an `Int64` is never rounded to a `Double` to be compared).
    package func compareNumber(to other: JSONValue) -> ComparisonResult {
        switch (self, other) {
        case (.int(let a), .int(let b)): return a < b ? .orderedAscending : (a > b ? .orderedDescending : .orderedSame)
        case (.double(let a), .double(let b)): return a < b ? .orderedAscending : (a > b ? .orderedDescending : .orderedSame)
        case (.int(let a), .double(let b)): return Self.compare(a, b)
        case (.double(let a), .int(let b)): return Self.invert(Self.compare(b, a))
        case (.largeInteger(let a), .largeInteger(let b)): return Self.compare(digits: a, b)
        case (.largeInteger(let a), .int): return a.hasPrefix("-") ? .orderedAscending : .orderedDescending  // beyond Int64
        case (.int, .largeInteger(let b)): return b.hasPrefix("-") ? .orderedDescending : .orderedAscending
        case (.largeInteger(let a), .double(let b)): return Self.compare(digits: a, b)
        case (.double(let a), .largeInteger(let b)): return Self.invert(Self.compare(digits: b, a))
        default: return .orderedSame  // not numbers: never asked
        }
    }

    /// A large integer against a double, exactly: a double beyond Int64 is an integer, written
    /// out in full by `%.0f`; one within it is smaller in magnitude than any large integer.
    private static func compare(digits a: String, _ b: Double) -> ComparisonResult {
        if b.isNaN { return .orderedSame }
        if b.isInfinite { return b > 0 ? .orderedAscending : .orderedDescending }
        guard abs(b) >= 9_223_372_036_854_775_808.0 else { return a.hasPrefix("-") ? .orderedAscending : .orderedDescending }
        return compare(digits: a, String(format: "%.0f", b))
    }

    /// Two integers written as decimal digits (`-?[0-9]+`, no leading zeros).
    private static func compare(digits x: String, _ y: String) -> ComparisonResult {
        let (negativeX, negativeY) = (x.hasPrefix("-"), y.hasPrefix("-"))
        if negativeX != negativeY { return negativeX ? .orderedAscending : .orderedDescending }
        let (digitsX, digitsY) = (x.drop { $0 == "-" }, y.drop { $0 == "-" })
        let order: ComparisonResult =
            digitsX.count != digitsY.count
            ? (digitsX.count < digitsY.count ? .orderedAscending : .orderedDescending)
            : (digitsX < digitsY ? .orderedAscending : (digitsX > digitsY ? .orderedDescending : .orderedSame))
        return negativeX ? invert(order) : order
    }

    private static func invert(_ result: ComparisonResult) -> ComparisonResult {
        switch result {
        case .orderedAscending: .orderedDescending
        case .orderedDescending: .orderedAscending
        case .orderedSame: .orderedSame
        }
    }

    /// `a` against `b`, exactly.
    private static func compare(_ a: Int64, _ b: Double) -> ComparisonResult {
        if b.isNaN { return .orderedSame }  // never in JSON; no crash on a value built in code
        if b >= 9_223_372_036_854_775_808.0 { return .orderedAscending }
        if b < -9_223_372_036_854_775_808.0 { return .orderedDescending }
        let whole = b.rounded(.down)
        let integral = Int64(whole)
        if a < integral { return .orderedAscending }
        if a > integral { return .orderedDescending }
        return b > whole ? .orderedAscending : .orderedSame
    }
}
