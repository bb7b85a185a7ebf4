import Foundation
import Testing

@testable import StateCoordinator

/// The validator against the JSON-Schema-Test-Suite's draft 2020-12 files for the keywords it
/// supports (vendored in `Vectors/JSON-Schema-Test-Suite` with its licence). A group whose schema
/// uses a keyword outside the subset must be refused when compiled — never checked in part.
@Suite("JSON-Schema-Test-Suite, draft 2020-12")
struct JSONSchemaSuiteTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors/JSON-Schema-Test-Suite/draft2020-12")

    @Test func everyCaseOfTheSupportedKeywordsPasses() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count == 17)
        var (passed, refusedGroups) = (0, 0)
        var failures: [String] = []
        for file in files {
            let text = Array(try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            guard case .array(let groups) = try JSONValue(parsing: text) else { throw CocoaError(.coderInvalidValue) }
            for group in groups {
                guard let schemaValue = group["schema"], case .array(let tests)? = group["tests"] else { throw CocoaError(.coderInvalidValue) }
                let description = "\(file): \(group["description"]?.compactJSON ?? "")"
                let schema: JSONSchema
                do {
                    schema = try JSONSchema(schemaValue)
                } catch {
                    // Only a keyword outside the subset is a reason to refuse a suite schema.
                    if error.message.contains("not support") || error.message.contains("not supported") {
                        refusedGroups += 1
                    } else {
                        failures.append("\(description): refused: \(error)")
                    }
                    continue
                }
                for test in tests {
                    guard let data = test["data"], case .bool(let valid)? = test["valid"] else { throw CocoaError(.coderInvalidValue) }
                    if schema.accepts(data) == valid {
                        passed += 1
                    } else {
                        failures.append("\(description) / \(test["description"]?.compactJSON ?? ""): expected \(valid)")
                    }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(5))")
        #expect(passed == 320 && refusedGroups == 11, "\(passed) cases passed, \(refusedGroups) groups refused for an unsupported keyword")
    }
}
