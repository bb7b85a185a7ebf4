import StateJSON

/// A change of a JSON state said as data rather than as a closure: what `statectl`, the JSON API
/// and the Python package express. Because it is data, a writer waiting for the lock can publish
/// it, and the process holding the lock commits it with its own (see <doc:OnDiskProtocol>,
/// "Combining"): one write and one fsync for every waiting process.
///
/// Its JSON form (``json``, ``init(json:)``) is the one written to the queue, the same in Swift
/// and Python: `{"op": "set", "path": "/halt", "value": true}`, `{"op": "delete", "path": …}`,
/// `{"op": "incr", "path": …, "by": 1}`, `{"op": "merge", "patch": {…}}`,
/// `{"op": "patch", "operations": […]}` and `{"op": "replace", "value": …}`.
public enum StateMutation: Sendable, Equatable {
    /// Sets the value at the pointer, creating missing parent objects (`statectl set`).
    case set(JSONPointer, JSONValue)
    /// Removes the member or element at the pointer, which must exist (`statectl delete`).
    case delete(JSONPointer)
    /// Adds a number to the number at the pointer; a missing member counts as 0 (`statectl incr`).
    case increment(JSONPointer, by: JSONValue)
    /// Applies an RFC 7396 merge patch, which must be an object (`statectl patch`).
    case mergePatch(JSONValue)
    /// Applies an RFC 6902 JSON Patch, all or nothing (`statectl patch --json-patch`).
    case jsonPatch([JSONPatch.Operation])
    /// Replaces the whole state (`statectl put`).
    case replace(JSONValue)

    /// Applies the change to `state`; on failure `state` is left as it was.
    /// - Throws: ``StateMutationError`` saying why (a missing member, a failed `test`, a value
    ///   that is not a number, an overflow).
    public func apply(to state: inout JSONValue) throws(StateMutationError) {
        do {
            switch self {
            case .set(let pointer, let value):
                try state.set(value, at: pointer)
            case .delete(let pointer):
                _ = try state.remove(at: pointer)
            case .increment(let pointer, let amount):
                // As statectl incr always did: a member that cannot be read counts as 0, and setting
                // it then says why it cannot be there.
                let current = (try? state.value(at: pointer)) ?? .int(0)
                try state.set(try current.adding(amount), at: pointer)
            case .mergePatch(let patch):
                guard case .object = patch else {
                    throw StateMutationError(.malformed, "a merge patch is an object, not \(patch.kindName)")
                }
                state = state.merging(patch: patch)
            case .jsonPatch(let operations):
                state = try JSONPatch.apply(operations, to: state)
            case .replace(let value):
                state = value
            }
        } catch let error as StateMutationError {
            throw error
        } catch let error as JSONPointerError {
            throw StateMutationError(error.kind == .malformed ? .malformed : .notFound, error.description)
        } catch let error as JSONPatchError {
            let kind: StateMutationError.Kind =
                switch error.kind {
                case .malformed: .malformed
                case .notFound: .notFound
                case .testFailed: .testFailed
                }
            throw StateMutationError(kind, error.description)
        } catch let error as JSONValue.ArithmeticError {
            throw StateMutationError(.notANumber, "cannot increment: \(error)")
        } catch {
            throw StateMutationError(.malformed, "\(error)")
        }
    }

    /// The mutation's JSON form (see the type's description).
    public var json: JSONValue {
        switch self {
        case .set(let pointer, let value): ["op": "set", "path": .string(pointer.description), "value": value]
        case .delete(let pointer): ["op": "delete", "path": .string(pointer.description)]
        case .increment(let pointer, let amount): ["op": "incr", "path": .string(pointer.description), "by": amount]
        case .mergePatch(let patch): ["op": "merge", "patch": patch]
        case .jsonPatch(let operations): ["op": "patch", "operations": .array(operations.map(\.json))]
        case .replace(let value): ["op": "replace", "value": value]
        }
    }

    /// Reads a mutation's JSON form. Members other than the ones named are ignored.
    /// - Throws: ``StateMutationError/Kind/malformed`` saying what is missing or wrong.
    public init(json: JSONValue) throws(StateMutationError) {
        guard case .object(let members) = json else {
            throw StateMutationError(.malformed, "a mutation is an object, not \(json.kindName)")
        }
        guard case .string(let op)? = members["op"] else { throw StateMutationError(.malformed, "\"op\" is missing or not a string") }
        func pointer() throws(StateMutationError) -> JSONPointer {
            guard case .string(let text)? = members["path"] else { throw StateMutationError(.malformed, "\(op) needs \"path\" as a string") }
            do { return try JSONPointer(text) } catch { throw StateMutationError(.malformed, error.description) }
        }
        func member(_ name: JSONKey) throws(StateMutationError) -> JSONValue {
            guard let value = members[name] else { throw StateMutationError(.malformed, "\(op) needs \"\(name.name)\"") }
            return value
        }
        switch op {
        case "set": self = .set(try pointer(), try member("value"))
        case "delete": self = .delete(try pointer())
        case "incr":
            let amount = members["by"] ?? .int(1)
            switch amount {
            case .int, .double: self = .increment(try pointer(), by: amount)
            default: throw StateMutationError(.malformed, "incr needs \"by\" as a number, not \(amount.kindName)")
            }
        case "merge":
            let patch = try member("patch")
            guard case .object = patch else { throw StateMutationError(.malformed, "a merge patch is an object, not \(patch.kindName)") }
            self = .mergePatch(patch)
        case "patch":
            do { self = .jsonPatch(try JSONPatch.operations(from: try member("operations"))) } catch let error as StateMutationError {
                throw error
            } catch {
                throw StateMutationError(.malformed, "\(error)")
            }
        case "replace": self = .replace(try member("value"))
        default: throw StateMutationError(.malformed, "unknown op \"\(op)\" (set, delete, incr, merge, patch, replace)")
        }
    }
}
