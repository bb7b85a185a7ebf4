import ArgumentParser
import StateCoordinator

/// The positional operands of `set` and `incr`, where a VALUE or BY may be a negative JSON
/// number (`statectl set /x -0.25`, `statectl incr /n -3`): collected with
/// `.allUnrecognized`, so that a dash-prefixed number is a value, not an unknown option, while
/// anything else dash-prefixed is still refused as one.
enum Operands {
    /// The operands without a `--` (the old way of passing a negative number, still accepted).
    static func values(_ operands: [String]) -> [String] {
        guard let terminator = operands.firstIndex(of: "--") else { return operands }
        var values = operands
        values.remove(at: terminator)
        return values
    }

    /// Checks that there are `range` operands and that none is an unknown option.
    static func validate(_ raw: [String], count range: ClosedRange<Int>, usage: String) throws {
        let operands = values(raw)
        if let option = operands.first(where: { $0.hasPrefix("-") && $0 != "-" && !isNumber($0) }) {
            throw ValidationError("Unknown option '\(option)'. Usage: \(usage)")
        }
        guard range.contains(operands.count) else {
            throw ValidationError(
                operands.count < range.lowerBound ? "Missing operand. Usage: \(usage)" : "Too many operands. Usage: \(usage)")
        }
    }

    /// Whether the text is a JSON number (RFC 8259 grammar).
    static func isNumber(_ text: String) -> Bool {
        guard let value = try? JSONValue(parsing: Array(text.utf8)) else { return false }
        switch value {
        case .int, .largeInteger, .double: return true
        default: return false
        }
    }
}
