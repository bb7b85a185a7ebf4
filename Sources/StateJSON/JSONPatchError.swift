/// Why a JSON Patch was not applied. Nothing of the patch was applied: ``JSONPatch/apply(_:to:)``
/// is all or nothing.
public struct JSONPatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The patch is not a list of well-formed operations (an unknown `op`, a missing `path`,
        /// `value` or `from`, a malformed pointer, a move into its own child).
        case malformed
        /// A location the operation needs does not exist in the document as patched so far.
        case notFound
        /// A `test` operation found a different value.
        case testFailed
    }

    /// The kind of failure.
    public var kind: Kind
    /// The failing operation's position in the patch (0 for the first), nil when the patch as a
    /// whole is malformed.
    public var operationIndex: Int?
    /// What was wrong.
    public var reason: String

    init(_ kind: Kind, operationIndex: Int?, _ reason: String) {
        self.kind = kind
        self.operationIndex = operationIndex
        self.reason = reason
    }

    /// `JSON Patch operation 2: reason`.
    public var description: String {
        guard let operationIndex else { return "JSON Patch: \(reason)" }
        return "JSON Patch operation \(operationIndex): \(reason)"
    }
}
