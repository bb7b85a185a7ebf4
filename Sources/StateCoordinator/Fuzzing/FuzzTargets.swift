/// Entry points for the libFuzzer targets in `Tools/fuzz`: each takes arbitrary bytes, runs one of
/// the package's parsers on them, and traps only when an invariant breaks (a crash of the parser
/// itself is what the fuzzer looks for). Not for applications.
@_spi(Fuzzing)
public enum FuzzTargets {
    /// A whole state file, as a reader gets it: split, verified, decoded as untyped and as a
    /// typed state. Whatever verifies must re-encode to a file that verifies to the same version.
    public static func stateFile(_ bytes: UnsafeBufferPointer<UInt8>) {
        let file = Array(bytes)
        guard let (header, state) = try? StateFileCodec.decode(file, path: "fuzz") else { return }
        precondition(state.count == header.stateBytes && header.isPlausible)
        _ = try? StateEncoding.decode(FuzzTypedState.self, from: state, path: "fuzz", source: .version(header.version))
        guard let value = try? StateEncoding.decode(JSONValue.self, from: state, path: "fuzz", source: .version(header.version)) else { return }
        guard let reencoded = try? StateEncoding.encode(value, limit: StoreSettings.largestMaximumStateBytes) else {
            preconditionFailure("a state that verified cannot be written back")
        }
        precondition((try? StateEncoding.decode(JSONValue.self, from: reencoded, path: "fuzz", source: .version(header.version))) == value)
    }

    /// A header line: the fast scanner and the strict fallback must agree wherever the scanner
    /// reads the line.
    public static func header(_ bytes: UnsafeBufferPointer<UInt8>) {
        let line = ArraySlice(bytes)
        if let scanned = HeaderScanner.header(line) {
            precondition(StateFileHeader.strictlyDecoded(line) == scanned, "the header scanner and the strict decoder disagree")
        }
        if let decoded = StateFileHeader.decode(line) { precondition(decoded.isPlausible) }
    }

    /// A JSON text: the parser and its check-only mode accept the same texts, whatever it
    /// accepts is written back as text that parses to the same value, and the commit path's
    /// encoder writes that value as `JSONEncoder` does.
    public static func json(_ bytes: UnsafeBufferPointer<UInt8>) {
        let parsed = try? JSONParser.parse(bytes)
        let checked = (try? JSONParser.check(bytes)) != nil
        precondition((parsed != nil) == checked, "parse and check disagree")
        guard let parsed else { return }
        // The commit path's encoder writes what JSONEncoder writes, and fails where it fails.
        let foundation = try? Array(StateEncoding.makeEncoder().encode(parsed))
        precondition((try? CompactJSONEncoder.encode(parsed)) == foundation, "CompactJSONEncoder and JSONEncoder disagree")
        for pretty in [false, true] {
            guard let text = try? JSONWriter.write(parsed, pretty: pretty) else { preconditionFailure("a parsed value cannot be written") }
            precondition((try? JSONParser.parse(text)) == parsed, "written text does not read back")
        }
        // An array is also tried as a JSON Patch: applying it never traps, and a patch computed
        // between two values turns one into the other.
        let document: JSONValue = ["a": [1, ["b": "c"]], "é": 1, "e\u{301}": 2, "": [:]]
        if let operations = try? JSONPatch.operations(from: parsed) { _ = try? JSONPatch.apply(operations, to: document) }
        precondition((try? JSONPatch.apply(JSONPatch.difference(from: document, to: parsed), to: document)) == parsed, "a difference does not apply back")
    }

    /// A JSON Pointer (the first line) applied to a document (the rest): lookups, sets and removals
    /// never trap, and a value set can be read back.
    public static func pointer(_ bytes: UnsafeBufferPointer<UInt8>) {
        let split = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        let text = String(decoding: bytes[..<split], as: UTF8.self)
        guard let pointer = try? JSONPointer(text) else { return }
        precondition((try? JSONPointer(pointer.description)) == pointer, "a pointer's text does not read back")
        var document = (try? JSONParser.parse(bytes[min(split + 1, bytes.count)...])) ?? ["a": [1, ["b": "c"]], "": [:]]
        _ = try? document.value(at: pointer)
        var changed = document
        if (try? changed.set("fuzz", at: pointer)) != nil, pointer.tokens.last != "-" {
            precondition((try? changed.value(at: pointer)) == "fuzz", "a value set cannot be read back")
        }
        _ = try? document.remove(at: pointer)
    }
}

/// A typed state for the state-file target: a typed decode goes through `JSONDecoder` after the
/// strict check.
private struct FuzzTypedState: Codable, Sendable {
    var halt: Bool?
    var limits: [String: Double]?
    var orders: [Int64]?
}
