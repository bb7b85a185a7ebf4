/// One compiled (sub)schema: its keywords, checked for type and range when compiled.
final class SchemaNode: Sendable {
    enum TypeName: String, Sendable, CaseIterable {
        case null, boolean, object, array, number, string, integer
    }

    let alwaysValid: Bool
    let neverValid: Bool
    let types: [TypeName]?
    let enumeration: [JSONValue]?
    let constant: JSONValue?
    let properties: [(JSONKey, SchemaNode)]
    let required: [JSONKey]
    let additionalProperties: SchemaNode?
    let items: SchemaNode?
    let minimum: JSONValue?, maximum: JSONValue?, exclusiveMinimum: JSONValue?, exclusiveMaximum: JSONValue?
    let minLength: Int?, maxLength: Int?, minItems: Int?, maxItems: Int?

    private init(boolean: Bool) {
        alwaysValid = boolean
        neverValid = !boolean
        types = nil
        enumeration = nil
        constant = nil
        properties = []
        required = []
        additionalProperties = nil
        items = nil
        minimum = nil
        maximum = nil
        exclusiveMinimum = nil
        exclusiveMaximum = nil
        minLength = nil
        maxLength = nil
        minItems = nil
        maxItems = nil
    }

    private init(_ keywords: [JSONKey: JSONValue], at location: JSONPointer) throws(StateStoreError) {
        alwaysValid = false
        neverValid = false
        func fail(_ keyword: String, _ reason: String) -> StateStoreError {
            let place = location.appending(keyword)
            return StateStoreError(
                .invalidArgument, "The schema's \(place) \(reason).",
                hint: "Supported: \(SchemaNode.supportedKeywords.sorted().map(\.name).joined(separator: ", ")) (JSON Schema 2020-12); nothing was changed.")
        }
        for keyword in keywords.keys.sorted() where !Self.supportedKeywords.contains(keyword) {
            throw fail(keyword.name, "is a keyword this package does not support, so it refuses the schema rather than ignore it")
        }
        for keyword: JSONKey in ["title", "description", "$comment"] {
            if let text = keywords[keyword], case .string = text {} else if keywords[keyword] != nil { throw fail(keyword.name, "must be a string") }
        }
        if let examples = keywords["examples"], case .array = examples {} else if keywords["examples"] != nil {
            throw fail("examples", "must be an array")
        }
        if let uri = keywords["$schema"], uri != .string(JSONSchema.draft202012), uri != .string(JSONSchema.draft202012 + "#") {
            throw fail("$schema", "must be \"\(JSONSchema.draft202012)\" (the only dialect supported)")
        }
        switch keywords["type"] {
        case nil: types = nil
        case .string(let name)?:
            guard let type = TypeName(rawValue: name) else { throw fail("type", "names no JSON type (\"\(name)\")") }
            types = [type]
        case .array(let names)?:
            var list: [TypeName] = []
            for name in names {
                guard case .string(let text) = name, let type = TypeName(rawValue: text), !list.contains(type) else {
                    throw fail("type", "must list distinct type names")
                }
                list.append(type)
            }
            guard !list.isEmpty else { throw fail("type", "must name at least one type") }
            types = list
        default: throw fail("type", "must be a type name or an array of them")
        }
        switch keywords["enum"] {
        case nil: enumeration = nil
        case .array(let values)?: enumeration = values
        default: throw fail("enum", "must be an array")
        }
        constant = keywords["const"]
        var compiled: [(JSONKey, SchemaNode)] = []
        switch keywords["properties"] {
        case nil: break
        case .object(let members)?:
            for name in members.keys.sorted() {
                compiled.append((name, try SchemaNode.compile(members[name]!, at: location.appending("properties").appending(name.name))))
            }
        default: throw fail("properties", "must be an object of schemas")
        }
        properties = compiled
        switch keywords["required"] {
        case nil: required = []
        case .array(let names)?:
            var list: [JSONKey] = []
            for name in names {
                guard case .string(let text) = name, !list.contains(JSONKey(text)) else { throw fail("required", "must list distinct member names") }
                list.append(JSONKey(text))
            }
            required = list
        default: throw fail("required", "must be an array of strings")
        }
        additionalProperties = try keywords["additionalProperties"].map { (schema) throws(StateStoreError) in
            try SchemaNode.compile(schema, at: location.appending("additionalProperties"))
        }
        switch keywords["items"] {
        case nil: items = nil
        case .array?: throw fail("items", "must be one schema (2020-12); an array of schemas is prefixItems, which is not supported")
        case let schema?: items = try SchemaNode.compile(schema, at: location.appending("items"))
        }
        func number(_ keyword: String) throws(StateStoreError) -> JSONValue? {
            guard let value = keywords[JSONKey(keyword)] else { return nil }
            guard value.isNumber else { throw fail(keyword, "must be a number") }
            return value
        }
        minimum = try number("minimum")
        maximum = try number("maximum")
        exclusiveMinimum = try number("exclusiveMinimum")
        exclusiveMaximum = try number("exclusiveMaximum")
        func count(_ keyword: String) throws(StateStoreError) -> Int? {
            guard let value = keywords[JSONKey(keyword)] else { return nil }
            switch value {
            case .int(let count) where count >= 0: return Int(count)
            case .double(let count) where count >= 0 && count == count.rounded() && count < 1e18: return Int(count)
            default: throw fail(keyword, "must be a non-negative integer")
            }
        }
        minLength = try count("minLength")
        maxLength = try count("maxLength")
        minItems = try count("minItems")
        maxItems = try count("maxItems")
    }

    static let supportedKeywords: Set<JSONKey> = [
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
        "$schema", "$comment", "title", "description", "default", "examples",
    ]

    static func compile(_ value: JSONValue, at location: JSONPointer) throws(StateStoreError) -> SchemaNode {
        switch value {
        case .bool(let boolean): return SchemaNode(boolean: boolean)
        case .object(let keywords): return try SchemaNode(keywords, at: location)
        default:
            throw StateStoreError(
                .invalidArgument,
                "The schema\(location.tokens.isEmpty ? "" : "'s \(location)") is \(value.compactJSON.prefix(40)), not an object or a boolean.",
                hint: "Write a JSON Schema object such as {\"type\": \"object\"}; nothing was changed.")
        }
    }

    /// Appends the rules `instance` breaks (the first only, when `stopAtFirst`).
    func validate(_ instance: JSONValue, at pointer: JSONPointer, into violations: inout [SchemaViolation], stopAtFirst: Bool) {
        func report(_ message: String, at place: JSONPointer = pointer) -> Bool {
            violations.append(SchemaViolation(pointer: place, message: message))
            return stopAtFirst
        }
        if alwaysValid { return }
        if neverValid {
            _ = report("no value is allowed here (the schema is false), got \(instance.shortDescription)")
            return
        }
        if let types, !types.contains(where: { instance.hasType($0) }) {
            let expected = types.count == 1 ? types[0].rawValue : "one of " + types.map(\.rawValue).joined(separator: ", ")
            if report("expected \(expected), got \(instance.shortDescription)") { return }
        }
        if let enumeration, !enumeration.contains(where: { $0.schemaEquals(instance) }) {
            if report("expected one of \(JSONValue.array(enumeration).shortDescription), got \(instance.shortDescription)") { return }
        }
        if let constant, !constant.schemaEquals(instance) {
            if report("expected \(constant.shortDescription), got \(instance.shortDescription)") { return }
        }
        switch instance {
        case .object(let members):
            for name in required where members[name] == nil {
                if report("required member \"\(name.name)\" is missing") { return }
            }
            for (name, schema) in properties {
                guard let member = members[name] else { continue }
                let before = violations.count
                schema.validate(member, at: pointer.appending(name.name), into: &violations, stopAtFirst: stopAtFirst)
                if stopAtFirst && violations.count > before { return }
            }
            if let additionalProperties {
                let declared = Set(properties.map(\.0))
                for name in members.keys.sorted() where !declared.contains(name) {
                    let before = violations.count
                    if additionalProperties.neverValid {
                        violations.append(SchemaViolation(pointer: pointer.appending(name.name), message: "member not allowed (additionalProperties is false)"))
                    } else {
                        additionalProperties.validate(members[name]!, at: pointer.appending(name.name), into: &violations, stopAtFirst: stopAtFirst)
                    }
                    if stopAtFirst && violations.count > before { return }
                }
            }
        case .array(let elements):
            if let minItems, elements.count < minItems {
                if report("expected at least \(minItems) item\(minItems == 1 ? "" : "s"), got \(elements.count)") { return }
            }
            if let maxItems, elements.count > maxItems {
                if report("expected at most \(maxItems) item\(maxItems == 1 ? "" : "s"), got \(elements.count)") { return }
            }
            if let items {
                for (index, element) in elements.enumerated() {
                    let before = violations.count
                    items.validate(element, at: pointer.appending(String(index)), into: &violations, stopAtFirst: stopAtFirst)
                    if stopAtFirst && violations.count > before { return }
                }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minLength, length < minLength {
                if report("expected at least \(minLength) character\(minLength == 1 ? "" : "s"), got \(length)") { return }
            }
            if let maxLength, length > maxLength {
                if report("expected at most \(maxLength) character\(maxLength == 1 ? "" : "s"), got \(length)") { return }
            }
        case .int, .double, .largeInteger:
            if let minimum, instance.compareNumber(to: minimum) == .orderedAscending {
                if report("expected at least \(minimum.shortDescription), got \(instance.shortDescription)") { return }
            }
            if let maximum, instance.compareNumber(to: maximum) == .orderedDescending {
                if report("expected at most \(maximum.shortDescription), got \(instance.shortDescription)") { return }
            }
            if let exclusiveMinimum, instance.compareNumber(to: exclusiveMinimum) != .orderedDescending {
                if report("expected more than \(exclusiveMinimum.shortDescription), got \(instance.shortDescription)") { return }
            }
            if let exclusiveMaximum, instance.compareNumber(to: exclusiveMaximum) != .orderedAscending {
                if report("expected less than \(exclusiveMaximum.shortDescription), got \(instance.shortDescription)") { return }
            }
        case .null, .bool:
            break
        }
    }
}
