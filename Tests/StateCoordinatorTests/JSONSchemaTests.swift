import Foundation
import Testing

@testable import StateCoordinator

/// The validator against Python's `jsonschema` (the reference implementation of 2020-12), and its
/// messages and refusals.
@Suite("JSON Schema validator")
struct JSONSchemaTests {
    /// Runs `Vectors/schema_corpus.py`: generated pairs, each judged by `jsonschema`.
    static func corpus(seed: Int, count: Int) throws -> [(schema: JSONValue, document: JSONValue, valid: Bool)] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/schema_corpus.py")
        let python = try RunningHelper(["python3", script.path, String(seed), String(count)], executable: URL(fileURLWithPath: "/usr/bin/env"))
        python.closeInput()
        let (status, stdout, stderr) = python.waitForExit()
        guard status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: stderr]) }
        return try stdout.split(separator: "\n").map { line in
            guard case .object(let row) = try JSONValue(parsing: Array(line.utf8)), let schema = row["schema"],
                let document = row["document"], case .bool(let valid)? = row["valid"]
            else { throw CocoaError(.coderInvalidValue) }
            return (schema, document, valid)
        }
    }

    @Test(arguments: [1, 2])
    func agreesWithPythonsJsonschemaOnEveryGeneratedCase(seed: Int) throws {
        let cases = try Self.corpus(seed: seed, count: 3000)
        #expect(cases.count == 3000)
        let valid = cases.filter(\.valid).count
        #expect(valid > 600 && valid < 2400, "both outcomes are well represented: \(valid) valid")
        var disagreements: [String] = []
        for (schema, document, expected) in cases {
            do {
                let compiled = try JSONSchema(schema)
                if compiled.accepts(document) != expected {
                    disagreements.append("schema \(schema.compactJSON) document \(document.compactJSON): jsonschema says \(expected)")
                }
            } catch {
                disagreements.append("schema \(schema.compactJSON) refused: \(error)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(5))")
    }

    static let risk: JSONValue = [
        "type": "object",
        "properties": ["halt": ["type": "boolean"], "maxPosition": ["type": "integer", "minimum": 0]],
        "required": ["halt"],
    ]

    @Test func violationsNameThePointerAndTheRuleInOneLine() throws {
        let schema = try JSONSchema(Self.risk)
        #expect(schema.firstViolation(of: ["halt": 1])?.description == "/halt: expected boolean, got 1")
        #expect(schema.firstViolation(of: ["halt": true, "maxPosition": -1])?.description == "/maxPosition: expected at least 0, got -1")
        #expect(schema.firstViolation(of: [:])?.description == "(root): required member \"halt\" is missing")
        #expect(schema.firstViolation(of: 3)?.description == "(root): expected object, got 3")
        #expect(schema.accepts(["halt": false, "maxPosition": 100, "other": "kept"]))
        let closed = try JSONSchema(["type": "object", "additionalProperties": false, "properties": ["a": true]])
        #expect(closed.firstViolation(of: ["a": 1, "b~/": 2])?.description == "/b~0~1: member not allowed (additionalProperties is false)")
    }

    @Test func unsupportedOrMalformedKeywordsAreRefusedNotIgnored() {
        let refused: [(JSONValue, String)] = [
            (["type": "object", "patternProperties": [:]], "/patternProperties is a keyword this package does not support"),
            (["properties": ["a": ["format": "email"]]], "/properties/a/format is a keyword"),
            (["type": "integr"], "/type names no JSON type"),
            (["minimum": "0"], "/minimum must be a number"),
            (["items": [true]], "prefixItems"),
            (["$schema": "http://json-schema.org/draft-07/schema#"], "2020-12"),
            (["required": "halt"], "/required must be an array"),
            (3, "not an object or a boolean"),
        ]
        for (schema, message) in refused {
            #expect(throws: StateStoreError.self) { _ = try JSONSchema(schema) }
            do { _ = try JSONSchema(schema) } catch {
                #expect(error.code == .invalidArgument && error.message.contains(message), "\(error)")
            }
        }
    }

    @Test func numbersFollowTheSpecification() throws {
        let integer = try JSONSchema(["type": "integer"])
        #expect(integer.accepts(.double(1.0)) && !integer.accepts(.double(1.5)) && !integer.accepts(true))
        #expect(try JSONSchema(["enum": [1]]).accepts(.double(1.0)))
        #expect(!(try JSONSchema(["const": 1]).accepts(true)))
        // Exact: 2^53 + 1 is above 2^53 as a double, which an Int64-to-Double comparison would miss.
        #expect(!(try JSONSchema(["maximum": .double(9_007_199_254_740_992)]).accepts(.int(9_007_199_254_740_993))))
        #expect(try JSONSchema(["minimum": 0]).accepts(.largeInteger("18446744073709551615")))
        #expect(try JSONSchema(["maxLength": 1]).accepts("😀"), "lengths count code points")
        // Beyond 64 bits, exactly: the largest Int64 as a maximum refuses the next integer.
        #expect(!(try JSONSchema(["maximum": .int(Int64.max)]).accepts(.largeInteger("9223372036854775808"))))
        #expect(!(try JSONSchema(["const": .int(Int64.max)]).accepts(.largeInteger("9223372036854775808"))))
        #expect(try JSONSchema(["minimum": .double(9.3e18)]).accepts(.largeInteger("9300000000000000001")))
        #expect(!(try JSONSchema(["minimum": .double(9.3e18)]).accepts(.largeInteger("9299999999999999999"))))
        #expect(throws: StateStoreError.self) { _ = try JSONSchema(["minimum": .double(.nan)]) }
        #expect(throws: StateStoreError.self) { _ = try JSONSchema(["type": []]) }
        #expect(try JSONSchema(["$schema": "https://json-schema.org/draft/2020-12/schema#"]).accepts(1))
    }
}
