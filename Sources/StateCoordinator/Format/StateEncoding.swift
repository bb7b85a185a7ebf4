import Foundation

/// The state bytes of a version: the state as compact JSON with sorted keys, then a line feed.
///
/// An untyped state (`JSONValue`) is written and read by the package's own strict parser and
/// writer, so its numbers are kept exactly; a typed state is written as `JSONEncoder` writes it
/// (``CompactJSONEncoder``) and read by `JSONDecoder`, after the strict parser checked the text (Foundation's decoder alone accepts
/// trailing commas and takes one of two duplicate names).
enum StateEncoding {
    static func encode<State: Encodable>(_ state: State, limit: Int) throws(StateStoreError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(state, limit: limit, into: &bytes)
        return bytes
    }

    /// Encodes into `bytes` (emptied first, its capacity kept: a commit's reused buffer).
    static func encode<State: Encodable>(_ state: State, limit: Int, into bytes: inout [UInt8]) throws(StateStoreError) {
        bytes.removeAll(keepingCapacity: true)
        if State.self == JSONValue.self {
            let value = unsafeBitCast(state, to: JSONValue.self)
            do { bytes = try JSONWriter.write(value, pretty: false) } catch {
                throw StateStoreError(.badState, "The state cannot be written as JSON: \(error).", hint: "Nothing was committed.", cause: error)
            }
        } else {
            do { try CompactJSONEncoder.encode(state, appendingTo: &bytes) } catch {
                throw StateStoreError(
                    .badState, "The state cannot be encoded as JSON: \(error).",
                    hint: "JSON has no NaN or infinity; nothing was committed.", cause: error)
            }
        }
        bytes.append(UInt8(ascii: "\n"))
        guard bytes.count <= limit else {
            throw StateStoreError(
                .tooLarge, "The new state is \(bytes.count) bytes, above the store's limit of \(limit) bytes.",
                hint: "Nothing was committed. Make the state smaller, or re-create the store with a larger limit.")
        }
    }

    /// Where the bytes being decoded come from, which decides what text that is not JSON means.
    enum Source {
        /// A file given to import: the user's input, to fix.
        case input
        /// A committed version that passed its checksum: text that is not JSON is damage (a
        /// writer that does not follow the protocol wrote it), not an input to fix.
        case version(UInt64)
    }

    static func decode<State: Decodable>(
        _ type: State.Type, from bytes: some Collection<UInt8>, path: String, source: Source
    ) throws(StateStoreError) -> State {
        do {
            if State.self == JSONValue.self { return try JSONParser.parse(bytes) as! State }
            try JSONParser.check(bytes)
        } catch {
            switch source {
            case .input:
                throw StateStoreError(
                    .badState, "\(path) is not valid JSON: \(error).", hint: "Fix the JSON; nothing was committed.", path: path, cause: error)
            case .version(let version):
                throw notJSON(path: path, version: version, error)
            }
        }
        do { return try decodeWithoutCopying(State.self, from: bytes) } catch {
            throw StateStoreError(
                .badState, "\(path) does not decode as \(State.self): \(describe(error))",
                hint: "Open it with the type it was written with, or as StateStore<JSONValue>.", path: path, cause: error)
        }
    }

    /// A committed version whose state bytes are not JSON although their checksum holds.
    static func notJSON(path: String, version: UInt64, _ error: JSONValue.ParseError) -> StateStoreError {
        var failure = StateStoreError(
            .corrupt,
            "\(path) is damaged: version \(version) passes its checksum but its state is not JSON (\(error)); a writer that does not follow the protocol wrote it.",
            hint: "Nothing was overwritten. Bring back the last kept version if history keeps one (statectl recover --restore), else re-create the store by force (statectl init --force).",
            path: path, cause: error)
        failure.version = version
        return failure
    }

    /// Decodes straight from the bytes' own storage: a copy into a `Data` would be one more
    /// buffer of the file's size per reload, which the allocator keeps (a reader of a 16 MiB state
    /// grew by 16 MiB). The `Data` does not outlive the call, and the decoder keeps no reference to
    /// its input (strings and values are copied out of it).
    private static func decodeWithoutCopying<State: Decodable>(_ type: State.Type, from bytes: some Collection<UInt8>) throws -> State {
        let decoded = try bytes.withContiguousStorageIfAvailable { buffer -> State in
            guard let base = buffer.baseAddress else { return try decoder.decode(State.self, from: Data()) }
            let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: buffer.count, deallocator: .none)
            return try decoder.decode(State.self, from: data)
        }
        return try decoded ?? decoder.decode(State.self, from: Data(bytes))
    }

    /// The encoder of every typed state: sorted keys, so that equal states give equal bytes (a
    /// mutation that changes nothing commits nothing), and `/` unescaped, as the parser writes it.
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// One decoder for every decode (its options are never changed; a decode keeps its own state).
    private static let decoder = JSONDecoder()

    /// A decoding error in one sentence, with the coding path where there is one.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
            .valueNotFound(_, let context):
            let where_ = context.codingPath.map(\.stringValue).joined(separator: "/")
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return [where_.isEmpty ? nil : "at /\(where_):", context.debugDescription, detail]
                .compactMap { $0 }.joined(separator: " ")
        @unknown default:
            return "\(error)"
        }
    }
}
