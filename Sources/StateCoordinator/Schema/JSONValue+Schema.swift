import Foundation

/// The type test JSON Schema needs, as the specification (and Python's `jsonschema`) defines it
/// (equality and numeric order are the JSON target's: `JSONValue/schemaEquals(_:)`).
extension JSONValue {
    func hasType(_ type: SchemaNode.TypeName) -> Bool {
        switch (type, self) {
        case (.null, .null), (.boolean, .bool), (.object, .object), (.array, .array), (.string, .string): true
        case (.number, .int), (.number, .double), (.number, .largeInteger): true
        case (.integer, .int), (.integer, .largeInteger): true
        case (.integer, .double(let value)): value == value.rounded(.towardZero)  // 1.0 is an integer
        default: false
        }
    }
}
