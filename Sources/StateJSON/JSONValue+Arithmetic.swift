extension JSONValue {
    /// Why a number could not be added.
    public enum ArithmeticError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The value is not a number (`null`, a boolean, a string, a container).
        case notANumber(String)
        /// Integer addition overflowed the signed 64-bit range.
        case overflow(Int64, Int64)
        /// An integer beyond the signed 64-bit range (kept exactly, never rounded into a double).
        case beyond64Bits(String)

        /// One sentence.
        public var description: String {
            switch self {
            case .notANumber(let kind): "the value is \(kind), not a number"
            case .overflow(let a, let b): "\(a) + \(b) overflows a signed 64-bit integer"
            case .beyond64Bits(let digits): "\(digits) is beyond a signed 64-bit integer; it is kept exactly but cannot be added to"
            }
        }
    }

    /// The sum of two numbers: integer arithmetic (overflow refused) when both are integers, IEEE
    /// double arithmetic otherwise.
    public func adding(_ other: JSONValue) throws(ArithmeticError) -> JSONValue {
        switch (self, other) {
        case (.int(let a), .int(let b)):
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw .overflow(a, b) }
            return .int(sum)
        case (.int(let a), .double(let b)): return .double(Double(a) + b)
        case (.double(let a), .int(let b)): return .double(a + Double(b))
        case (.double(let a), .double(let b)): return .double(a + b)
        case (.largeInteger(let digits), _), (_, .largeInteger(let digits)): throw .beyond64Bits(digits)
        case (.int, _), (.double, _): throw .notANumber(other.kindName)
        default: throw .notANumber(kindName)
        }
    }
}
