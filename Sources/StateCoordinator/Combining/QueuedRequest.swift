import StateJSON

/// A mutation published in the queue for the lock holder to commit: the contents of `ID.req`,
/// `{"id": …, "mutation": {…}, "expectedVersion": n}` (the version only for a compare-and-swap).
struct QueuedRequest: Sendable, Equatable {
    var id: String
    var mutation: StateMutation
    var expectedVersion: UInt64?

    /// The file's bytes.
    var bytes: [UInt8] {
        var object: [JSONKey: JSONValue] = ["id": .string(id), "mutation": mutation.json]
        if let expectedVersion { object["expectedVersion"] = .unsigned(expectedVersion) }
        return Array(((try? JSONValue.object(object).jsonText()) ?? "").utf8)
    }

    /// Reads a request file of the ID its name gave.
    /// - Throws: ``StateMutationError/Kind/malformed`` when it is not a request for that ID.
    init(bytes: [UInt8], id: String) throws(StateMutationError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: bytes) } catch { throw StateMutationError(.malformed, "the request is not JSON (\(error))") }
        guard case .string(id)? = value["id"] else { throw StateMutationError(.malformed, "the request's \"id\" is not its file's") }
        guard let mutation = value["mutation"] else { throw StateMutationError(.malformed, "the request has no \"mutation\"") }
        self.id = id
        self.mutation = try StateMutation(json: mutation)
        switch value["expectedVersion"] {
        case nil, .null?: expectedVersion = nil
        case .int(let version)? where version >= 0: expectedVersion = UInt64(version)
        case .largeInteger(let digits)?:
            guard let version = UInt64(digits) else { throw StateMutationError(.malformed, "\"expectedVersion\" is not a version") }
            expectedVersion = version
        default: throw StateMutationError(.malformed, "\"expectedVersion\" is not a version")
        }
    }

    init(id: String, mutation: StateMutation, expectedVersion: UInt64?) {
        self.id = id
        self.mutation = mutation
        self.expectedVersion = expectedVersion
    }
}
