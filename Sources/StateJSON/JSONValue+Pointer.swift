extension JSONValue {
    /// The value at `pointer`.
    /// - Throws: ``JSONPointerError/Kind/notFound`` when it or a parent does not exist.
    public func value(at pointer: JSONPointer) throws(JSONPointerError) -> JSONValue {
        do { return try lookUp(pointer) } catch { throw missing(in: pointer, error) }
    }

    private func lookUp(_ pointer: JSONPointer) throws(JSONPointerError) -> JSONValue {
        var current = self
        for (depth, token) in pointer.tokens.enumerated() {
            let here = JSONPointer(tokens: Array(pointer.tokens.prefix(depth + 1)))
            switch current {
            case .object(let members):
                guard let member = members[JSONKey(token)] else { throw missing(here, "no member \"\(token)\"") }
                current = member
            case .array(let elements):
                guard let index = JSONPointer.index(token), index < elements.count else {
                    throw missing(here, "no element \(token) in an array of \(elements.count)")
                }
                current = elements[index]
            default:
                throw missing(here, "\(JSONPointer(tokens: Array(pointer.tokens.prefix(depth)))) is \(current.kindName), not an object or array")
            }
        }
        return current
    }

    /// Sets the value at `pointer`, creating missing parent objects. An existing array index is
    /// replaced; `-` or the array's length appends.
    /// - Throws: ``JSONPointerError/Kind/notFound`` when a parent is a scalar or an index is past the end.
    public mutating func set(_ value: JSONValue, at pointer: JSONPointer) throws(JSONPointerError) {
        do {
            try update(at: pointer, depth: 0) { (target) throws(JSONPointerError) in target = value }
        } catch {
            throw missing(in: pointer, error)
        }
    }

    /// Removes the object member or array element at `pointer` and returns it.
    /// - Throws: ``JSONPointerError/Kind/notFound`` when it does not exist, ``JSONPointerError/Kind/malformed``
    ///   for the whole document (`""`), which cannot be removed.
    @discardableResult
    public mutating func remove(at pointer: JSONPointer) throws(JSONPointerError) -> JSONValue {
        guard let last = pointer.tokens.last else {
            throw JSONPointerError(.malformed, pointer: "", "the whole document cannot be deleted; replace it instead")
        }
        let parent = JSONPointer(tokens: Array(pointer.tokens.dropLast()))
        var container = try value(at: parent)
        let removed: JSONValue
        switch container {
        case .object(var members):
            guard let member = members.removeValue(forKey: JSONKey(last)) else { throw missing(pointer, "no member \"\(last)\"") }
            removed = member
            container = .object(members)
        case .array(var elements):
            guard let index = JSONPointer.index(last), index < elements.count else {
                throw missing(pointer, "no element \(last) in an array of \(elements.count)")
            }
            removed = elements.remove(at: index)
            container = .array(elements)
        default:
            throw missing(pointer, "\(parent) is \(container.kindName), not an object or array")
        }
        try set(container, at: parent)
        return removed
    }

    /// Applies `change` to the value at `pointer`, which is `nil` when the member is missing
    /// (parents are created as objects).
    public mutating func modify(
        at pointer: JSONPointer, _ change: (JSONValue?) throws(JSONPointerError) -> JSONValue
    ) throws(JSONPointerError) {
        let existing = try? value(at: pointer)
        let new = try change(existing)
        try set(new, at: pointer)
    }

    private mutating func update(
        at pointer: JSONPointer, depth: Int, _ apply: (inout JSONValue) throws(JSONPointerError) -> Void
    ) throws(JSONPointerError) {
        guard depth < pointer.tokens.count else { return try apply(&self) }
        let token = pointer.tokens[depth]
        let here = JSONPointer(tokens: Array(pointer.tokens.prefix(depth + 1)))
        switch self {
        case .object(var members):
            let key = JSONKey(token)
            var child = members[key] ?? (depth + 1 == pointer.tokens.count ? .null : .object([:]))
            try child.update(at: pointer, depth: depth + 1, apply)
            members[key] = child
            self = .object(members)
        case .array(var elements):
            let index = token == "-" ? elements.count : JSONPointer.index(token)
            guard let index, index <= elements.count else {
                throw missing(here, "no element \(token) in an array of \(elements.count)")
            }
            if index == elements.count {
                guard depth + 1 == pointer.tokens.count else { throw missing(here, "no element \(token) in an array of \(elements.count)") }
                elements.append(.null)
            }
            try elements[index].update(at: pointer, depth: depth + 1, apply)
            self = .array(elements)
        default:
            throw missing(here, "\(JSONPointer(tokens: Array(pointer.tokens.prefix(depth)))) is \(kindName), not an object or array")
        }
    }

    private func missing(_ pointer: JSONPointer, _ reason: String) -> JSONPointerError {
        JSONPointerError(.notFound, pointer: pointer.description, reason)
    }

    /// The same error, reported against the whole pointer that was asked for.
    private func missing(in full: JSONPointer, _ error: JSONPointerError) -> JSONPointerError {
        guard error.pointer != full.description else { return error }
        return JSONPointerError(.notFound, pointer: full.description, "\(error.reason) (at \(error.pointer))")
    }

    /// `an object`, `a string`, …: for messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .largeInteger, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
