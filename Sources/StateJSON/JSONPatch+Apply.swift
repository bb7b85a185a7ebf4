extension JSONPatch {
    /// Applies `operations` in order, all or nothing (RFC 6902 §3): when one fails, the error
    /// says which, and `document` is left as it was.
    ///
    /// `add` sets an object member or inserts into an array (`-` appends) and never creates a
    /// missing parent; `remove`, `replace`, `move`'s `from` and `test` need their target to exist;
    /// `test` compares as JSON does (numbers by value, strings by code points, objects by members).
    /// - Throws: ``JSONPatchError`` naming the operation that failed.
    public static func apply(_ operations: [Operation], to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        var result = document
        for (index, operation) in operations.enumerated() {
            do {
                try apply(operation, to: &result)
            } catch {
                throw JSONPatchError(error.kind, operationIndex: index, "\(operation.op) \"\(operation.path)\": \(error.reason)")
            }
        }
        return result
    }

    /// The operations of a patch given as JSON: an array of objects, each with a string `op` and
    /// `path`, `value` for `add`, `replace` and `test`, and `from` for `move` and `copy`. Other
    /// members are ignored (RFC 6902 §4).
    /// - Throws: ``JSONPatchError/Kind/malformed`` naming the first operation that is not one.
    public static func operations(from patch: JSONValue) throws(JSONPatchError) -> [Operation] {
        guard case .array(let elements) = patch else {
            throw JSONPatchError(.malformed, operationIndex: nil, "it is \(patch.kindName), not an array of operations")
        }
        var operations: [Operation] = []
        for (index, element) in elements.enumerated() {
            func fail(_ reason: String) -> JSONPatchError { JSONPatchError(.malformed, operationIndex: index, reason) }
            guard case .object(let members) = element else { throw fail("an operation is an object, not \(element.kindName)") }
            guard case .string(let op)? = members["op"] else { throw fail("\"op\" is missing or not a string") }
            guard case .string(let path)? = members["path"] else { throw fail("\"path\" is missing or not a string") }
            var operation = Operation(op: op, path: path, value: members["value"])
            switch op {
            case "add", "replace", "test":
                guard operation.value != nil else { throw fail("\(op) needs a \"value\"") }
            case "move", "copy":
                guard case .string(let from)? = members["from"] else { throw fail("\(op) needs \"from\" as a string") }
                operation.from = from
                operation.value = nil
            case "remove":
                operation.value = nil
            default:
                throw fail("unknown operation \"\(op)\" (add, remove, replace, move, copy or test)")
            }
            operations.append(operation)
        }
        return operations
    }

    /// A failure inside one operation, before ``apply(_:to:)`` names the operation.
    struct Failure: Error {
        var kind: JSONPatchError.Kind
        var reason: String
        init(_ kind: JSONPatchError.Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }
    }

    private static func apply(_ operation: Operation, to document: inout JSONValue) throws(Failure) {
        let path = try pointer(operation.path)
        func argument() throws(Failure) -> JSONValue {
            guard let value = operation.value else { throw Failure(.malformed, "\(operation.op) needs a \"value\"") }
            return value
        }
        func source() throws(Failure) -> JSONPointer {
            guard let from = operation.from else { throw Failure(.malformed, "\(operation.op) needs \"from\"") }
            return try pointer(from)
        }
        switch operation.op {
        case "add":
            try add(try argument(), at: path, in: &document)
        case "remove":
            _ = try remove(at: path, in: &document)
        case "replace":
            let value = try argument()
            try withTarget(path, in: &document) { (target) throws(Failure) in target = value }
        case "move":
            let from = try source()
            guard from != path else { return _ = try value(at: from, in: document) }
            if from.isPrefix(of: path) {
                throw Failure(.malformed, "cannot move \"\(from)\" into its own child")
            }
            var moved = document
            let value = try remove(at: from, in: &moved)
            try add(value, at: path, in: &moved)
            document = moved
        case "copy":
            try add(try value(at: try source(), in: document), at: path, in: &document)
        case "test":
            let expected = try argument()
            let actual = try value(at: path, in: document)
            guard actual.schemaEquals(expected) else {
                throw Failure(.testFailed, "expected \(expected.shortDescription), found \(actual.shortDescription)")
            }
        default:
            throw Failure(.malformed, "unknown operation \"\(operation.op)\" (add, remove, replace, move, copy or test)")
        }
    }

    private static func pointer(_ text: String) throws(Failure) -> JSONPointer {
        do { return try JSONPointer(text) } catch { throw Failure(.malformed, error.reason) }
    }

    private static func value(at pointer: JSONPointer, in document: JSONValue) throws(Failure) -> JSONValue {
        do { return try document.value(at: pointer) } catch { throw Failure(.notFound, error.reason) }
    }

    /// RFC 6902 §4.1: the whole document, an object member (added or replaced), or an array
    /// element inserted before an index up to the length (`-` is the length).
    private static func add(_ value: JSONValue, at pointer: JSONPointer, in document: inout JSONValue) throws(Failure) {
        guard let last = pointer.tokens.last else { return document = value }
        try withContainer(of: pointer, in: &document) { (container) throws(Failure) in
            switch container {
            case .object(var members):
                container = .null
                members[JSONKey(last)] = value
                container = .object(members)
            case .array(var elements):
                let index = last == "-" ? elements.count : JSONPointer.index(last)
                guard let index, index <= elements.count else {
                    throw Failure(.notFound, "no position \(last) in an array of \(elements.count)")
                }
                container = .null
                elements.insert(value, at: index)
                container = .array(elements)
            default:
                throw Failure(.notFound, "the parent is \(container.kindName), not an object or array")
            }
        }
    }

    private static func remove(at pointer: JSONPointer, in document: inout JSONValue) throws(Failure) -> JSONValue {
        guard let last = pointer.tokens.last else { throw Failure(.malformed, "the whole document cannot be removed") }
        var removed = JSONValue.null
        try withContainer(of: pointer, in: &document) { (container) throws(Failure) in
            switch container {
            case .object(var members):
                container = .null
                defer { container = .object(members) }
                guard let member = members.removeValue(forKey: JSONKey(last)) else { throw Failure(.notFound, "no member \"\(last)\"") }
                removed = member
            case .array(var elements):
                guard let index = JSONPointer.index(last), index < elements.count else {
                    throw Failure(.notFound, "no element \(last) in an array of \(elements.count)")
                }
                container = .null
                removed = elements.remove(at: index)
                container = .array(elements)
            default:
                throw Failure(.notFound, "the parent is \(container.kindName), not an object or array")
            }
        }
        return removed
    }

    /// Runs `body` on the existing value at `pointer` (never created).
    private static func withTarget(
        _ pointer: JSONPointer, in document: inout JSONValue, _ body: (inout JSONValue) throws(Failure) -> Void
    ) throws(Failure) {
        try descend(pointer.tokens[...], in: &document, body)
    }

    /// Runs `body` on the existing container of `pointer`'s last token.
    private static func withContainer(
        of pointer: JSONPointer, in document: inout JSONValue, _ body: (inout JSONValue) throws(Failure) -> Void
    ) throws(Failure) {
        try descend(pointer.tokens.dropLast()[...], in: &document, body)
    }

    /// Walks `tokens` down existing members and elements (an array index has no leading zero and
    /// is below the length), moving each level out of its parent while `body` runs so that a
    /// change copies nothing but the path.
    private static func descend(
        _ tokens: ArraySlice<String>, in value: inout JSONValue, _ body: (inout JSONValue) throws(Failure) -> Void
    ) throws(Failure) {
        guard let token = tokens.first else { return try body(&value) }
        switch value {
        case .object(var members):
            let key = JSONKey(token)
            guard var child = members[key] else { throw Failure(.notFound, "no member \"\(token)\"") }
            value = .null
            members[key] = nil
            defer {
                members[key] = child
                value = .object(members)
            }
            try descend(tokens.dropFirst(), in: &child, body)
        case .array(var elements):
            guard let index = JSONPointer.index(token), index < elements.count else {
                throw Failure(.notFound, "no element \(token) in an array of \(elements.count)")
            }
            var child = elements[index]
            value = .null
            elements[index] = .null
            defer {
                elements[index] = child
                value = .array(elements)
            }
            try descend(tokens.dropFirst(), in: &child, body)
        default:
            throw Failure(.notFound, "\"\(token)\" is inside \(value.kindName), not an object or array")
        }
    }
}
