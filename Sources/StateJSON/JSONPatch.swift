/// RFC 6902 JSON Patch: a list of operations that turns one JSON value into another.
///
/// ``difference(from:to:)`` computes a patch (with `add`, `remove` and `replace`);
/// ``apply(_:to:)`` applies any patch, all six operations, all or nothing; ``operations(from:)``
/// reads a patch from its JSON text's value, as `statectl patch --json-patch` does.
public enum JSONPatch {
    /// One operation.
    public struct Operation: Sendable, Equatable {
        /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
        public var op: String
        /// The JSON Pointer the operation applies to.
        public var path: String
        /// The value, for `add`, `replace` and `test` (``JSONValue/null`` is a value; `nil` is none).
        public var value: JSONValue?
        /// The JSON Pointer `move` and `copy` take their value from.
        public var from: String?

        /// Creates an operation.
        public init(op: String, path: String, value: JSONValue? = nil, from: String? = nil) {
            self.op = op
            self.path = path
            self.value = value
            self.from = from
        }

        /// The operation as its JSON object (`op`, `path`, then `from` or `value` when present).
        public var json: JSONValue {
            var object: [JSONKey: JSONValue] = ["op": .string(op), "path": .string(path)]
            if let from { object["from"] = .string(from) }
            if let value { object["value"] = value }
            return .object(object)
        }
    }

    /// Operations that turn `old` into `new`: members and elements are compared recursively;
    /// extra array elements are removed from the end first, so every path is valid when applied
    /// in order, and ``apply(_:to:)`` of the result to `old` gives `new`.
    public static func difference(from old: JSONValue, to new: JSONValue) -> [Operation] {
        var operations: [Operation] = []
        diff(old, new, at: JSONPointer(tokens: []), into: &operations)
        return operations
    }

    private static func diff(_ old: JSONValue, _ new: JSONValue, at pointer: JSONPointer, into operations: inout [Operation]) {
        guard old != new else { return }
        switch (old, new) {
        case (.object(let before), .object(let after)):
            for key in before.keys.sorted() where after[key] == nil {
                operations.append(Operation(op: "remove", path: pointer.appending(key.name).description))
            }
            for key in after.keys.sorted() {
                if let previous = before[key] {
                    diff(previous, after[key]!, at: pointer.appending(key.name), into: &operations)
                } else {
                    operations.append(Operation(op: "add", path: pointer.appending(key.name).description, value: after[key]))
                }
            }
        case (.array(let before), .array(let after)):
            for index in stride(from: before.count - 1, through: after.count, by: -1) {
                operations.append(Operation(op: "remove", path: pointer.appending(String(index)).description))
            }
            for index in 0..<min(before.count, after.count) {
                diff(before[index], after[index], at: pointer.appending(String(index)), into: &operations)
            }
            for index in before.count..<max(before.count, after.count) {
                operations.append(Operation(op: "add", path: pointer.appending(String(index)).description, value: after[index]))
            }
        default:
            operations.append(Operation(op: "replace", path: pointer.description, value: new))
        }
    }
}
