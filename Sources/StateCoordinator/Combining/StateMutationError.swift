import StateJSON

/// Why a ``StateMutation`` could not be applied to the state: nothing of it was committed. The
/// same error reaches its caller whether its own process applied it or another process combined
/// it (see `StateStore.apply(_:expecting:)`).
public struct StateMutationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable, Equatable {
        /// The mutation is not well formed (an unknown op, a malformed pointer, a merge patch
        /// that is not an object).
        case malformed
        /// A location it needs does not exist (delete of a missing member, a JSON Patch path).
        case notFound = "not found"
        /// A JSON Patch `test` operation found another value.
        case testFailed = "test failed"
        /// An increment met a value that is not a number, or overflowed.
        case notANumber = "not a number"
    }

    /// The kind of failure.
    public var kind: Kind
    /// What was wrong, one sentence.
    public var reason: String

    /// An error, for instance a fake one in your own tests.
    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The reason; nothing was committed.
    public var description: String { "\(reason); nothing was committed" }

    /// Its JSON form in a queue's answer file.
    var json: JSONValue { ["kind": .string(kind.rawValue), "reason": .string(reason)] }

    /// Reads ``json``; nil when it is not one.
    init?(json: JSONValue) {
        guard case .string(let kind)? = json["kind"], let kind = Kind(rawValue: kind), case .string(let reason)? = json["reason"] else {
            return nil
        }
        self.init(kind, reason)
    }
}
