/// RFC 6902 JSON Patch: the operations that turn one JSON value into another.
public enum JSONPatch {
    /// One operation (only `add`, `remove` and `replace` are produced).
    public struct Operation: Sendable, Equatable, Codable {
        /// `add`, `remove` or `replace`.
        public var op: String
        /// The JSON Pointer the operation applies to.
        public var path: String
        /// The new value (absent for `remove`).
        public var value: JSONValue?

        /// Creates an operation.
        public init(op: String, path: String, value: JSONValue? = nil) {
            self.op = op
            self.path = path
            self.value = value
        }
    }

    /// Operations that turn `old` into `new`: members and elements are compared recursively;
    /// extra array elements are removed from the end first, so every path is valid when applied
    /// in order.
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
                operations.append(Operation(op: "remove", path: pointer.appending(key).description))
            }
            for key in after.keys.sorted() {
                if let previous = before[key] {
                    diff(previous, after[key]!, at: pointer.appending(key), into: &operations)
                } else {
                    operations.append(Operation(op: "add", path: pointer.appending(key).description, value: after[key]))
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

    /// Applies `add`, `remove` and `replace` operations in order.
    /// - Throws: ``JSONPointerError`` for a path that does not fit the document, or an unknown op.
    public static func apply(_ operations: [Operation], to document: JSONValue) throws(JSONPointerError) -> JSONValue {
        var result = document
        for operation in operations {
            let pointer = try JSONPointer(operation.path)
            switch operation.op {
            case "remove":
                try result.remove(at: pointer)
            case "add" where pointer.tokens.last.map({ JSONPointer.index($0) != nil }) == true:
                let parent = JSONPointer(tokens: Array(pointer.tokens.dropLast()))
                guard case .array(var elements) = try result.value(at: parent),
                    let index = JSONPointer.index(pointer.tokens.last!), index <= elements.count
                else {
                    try result.set(operation.value ?? .null, at: pointer)
                    continue
                }
                elements.insert(operation.value ?? .null, at: index)
                try result.set(.array(elements), at: parent)
            case "add", "replace":
                try result.set(operation.value ?? .null, at: pointer)
            default:
                throw JSONPointerError(.malformed, pointer: operation.path, "unsupported operation \"\(operation.op)\"")
            }
        }
        return result
    }
}
