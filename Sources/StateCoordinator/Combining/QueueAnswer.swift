import StateJSON

/// What became of a published request that was not committed: the contents of `ID.failed`.
/// (A committed one is answered by `ID.done`, a link to the version that includes it.)
///
/// `{"outcome": "not committed", "mutationError": {"kind": …, "reason": …}}` when its mutation
/// could not be applied; `{"outcome": "not committed", "error": {"code": …, "message": …}}` when
/// the store refused the state it made (a conflict, its schema, its size); `{"outcome": "unknown",
/// "message": …}` when the holder that took it died and the versions that could tell are gone.
enum QueueAnswer: Sendable {
    /// The mutation could not be applied.
    case mutationFailed(StateMutationError)
    /// The store refused it.
    case refused(StateStoreError)
    /// Nobody can tell whether it was committed.
    case unknown(String)

    /// Its file's bytes.
    var bytes: [UInt8] {
        let value: JSONValue
        switch self {
        case .mutationFailed(let error):
            value = ["outcome": .string(CommitOutcome.notCommitted.rawValue), "mutationError": error.json]
        case .refused(let error):
            var described: [JSONKey: JSONValue] = ["code": .string(error.code.rawValue), "message": .string(error.message)]
            if let hint = error.hint { described["hint"] = .string(hint) }
            if let version = error.currentVersion { described["currentVersion"] = .unsigned(version) }
            value = ["outcome": .string(CommitOutcome.notCommitted.rawValue), "error": .object(described)]
        case .unknown(let message):
            value = ["outcome": .string(CommitOutcome.unknown.rawValue), "message": .string(message)]
        }
        return Array(((try? value.jsonText()) ?? "{}").utf8)
    }

    /// Reads an answer file; an unreadable one says the outcome is unknown.
    init(bytes: [UInt8], path: String) {
        guard let value = try? JSONValue(parsing: bytes) else {
            self = .unknown("the answer \(path) is not JSON")
            return
        }
        if case .object? = value["mutationError"], let error = StateMutationError(json: value["mutationError"]!) {
            self = .mutationFailed(error)
        } else if case .string(let code)? = value["error"]?["code"], case .string(let message)? = value["error"]?["message"] {
            var error = StateStoreError(StateStoreError.Code(code), message, outcome: .notCommitted)
            if case .string(let hint)? = value["error"]?["hint"] { error.hint = hint }
            if case .int(let version)? = value["error"]?["currentVersion"], version >= 0 { error.currentVersion = UInt64(version) }
            self = .refused(error)
        } else if case .string(let message)? = value["message"] {
            self = .unknown(message)
        } else {
            self = .unknown("the answer \(path) says neither what failed nor why")
        }
    }

    /// The error its waiter is answered with.
    func error(path: String) -> any Error {
        switch self {
        case .mutationFailed(let error): error
        case .refused(let error): error
        case .unknown(let message):
            StateStoreError(
                .ioFailure, "The lock holder that took this update died, and whether it was committed cannot be told: \(message).",
                hint: "Read the current state (statectl get) before retrying: it may or may not include this update.",
                path: path, outcome: .unknown)
        }
    }
}
