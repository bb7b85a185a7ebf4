import Foundation

/// Encodes and verifies state files: one header line, a line feed, then the state bytes.
///
/// ```
/// {"checksum":"sha256:…","committedAt":"…","format":"statecoordinator",…,"version":7}\n
/// {"halt":false,"risk":{"max_position":100}}\n
/// ```
/// The state bytes (here the second line, including its final line feed) are exactly
/// `stateBytes` long and hash to `checksum`. `jq -n 'input | input' NAME.json` prints the state.
enum StateFileCodec {
    private static let lineFeed = UInt8(ascii: "\n")

    /// The whole file for a header and the state bytes it describes.
    static func encode(header: StateFileHeader, stateBytes: [UInt8]) -> [UInt8] {
        var file = headerLine(header)
        file.reserveCapacity(file.count + stateBytes.count)
        file.append(contentsOf: stateBytes)
        return file
    }

    /// The file's first line, its line feed included: what precedes the state bytes.
    static func headerLine(_ header: StateFileHeader) -> [UInt8] {
        var line = header.line
        line.append(lineFeed)
        return line
    }

    /// Splits a state file into its verified header and state bytes.
    ///
    /// - Throws: ``StateStoreError/Code/corrupt`` when the file is ours but damaged (bad checksum,
    ///   truncated, malformed header); ``StateStoreError/Code/unverifiable`` when it is not in this
    ///   format at all (a plain JSON file gets a hint to import it).
    static func decode(_ file: [UInt8], path: String) throws(StateStoreError) -> (header: StateFileHeader, state: ArraySlice<UInt8>) {
        guard !file.isEmpty else {
            throw StateStoreError(.corrupt, "\(path) is empty.", hint: recoveryHint, path: path)
        }
        let newline = file.prefix(StateFileHeader.maximumLength + 1).firstIndex(of: lineFeed)
        let header: StateFileHeader
        if let newline, let decoded = StateFileHeader.decode(file[..<newline]),
            decoded.format == StateFileHeader.formatIdentifier
        {
            header = decoded
        } else {
            throw notOurFormat(file, newline: newline, path: path)
        }
        guard header.revision <= StateFileHeader.currentRevision else {
            throw StateStoreError(
                .unverifiable,
                "\(path) has format revision \(header.revision); this version reads up to \(StateFileHeader.currentRevision).",
                hint: "Upgrade StateCoordinator.", path: path)
        }
        let state = file[(newline! + 1)...]
        guard state.count == header.stateBytes else {
            throw StateStoreError(
                .corrupt,
                "\(path) is truncated or padded: the header of version \(header.version) promises \(header.stateBytes) state bytes, the file has \(state.count).",
                hint: recoveryHint, path: path)
        }
        guard Checksum.matches(state, header.checksum) else {
            let actual = Checksum.of(state)
            throw StateStoreError(
                .corrupt,
                "\(path) fails its checksum: version \(header.version) records \(header.checksum), the bytes hash to \(actual).",
                hint: recoveryHint, path: path)
        }
        return (header, state)
    }

    static let recoveryHint =
        "Nothing was overwritten. Inspect it; to recover, re-create the store by force (StateStore.create(force: true) or statectl init --force), optionally from a good copy."

    /// The first line as a JSON object claiming to be our header, without checking any other
    /// field: enough to tell a damaged state file from a foreign one, and to find the version of a
    /// corrupt store being re-created.
    static func claimedHeader(_ line: some Collection<UInt8>) -> JSONValue? {
        guard let object = try? JSONParser.parse(line), object["format"] == .string(StateFileHeader.formatIdentifier)
        else { return nil }
        return object
    }

    /// The version the first line of `file` claims, even when the file fails verification; nil
    /// when that line is not a header of ours. A damaged header may hold anything: only a
    /// non-negative integer is a version.
    static func claimedVersion(_ file: some Collection<UInt8>) -> UInt64? {
        switch claimedHeader(file.prefix(StateFileHeader.maximumLength).prefix(while: { $0 != lineFeed }))?["version"] {
        case .int(let number)? where number >= 0: UInt64(number)
        case .largeInteger(let digits)?: UInt64(digits)
        default: nil
        }
    }

    /// Whether `file` is a plain JSON text (the original bot's file), not a state file of ours,
    /// damaged or not.
    static func isPlainJSON(_ file: [UInt8]) -> Bool {
        let newline = file.prefix(StateFileHeader.maximumLength + 1).firstIndex(of: lineFeed)
        if let newline, claimedHeader(file[..<newline]) != nil { return false }
        return (try? JSONParser.check(file)) != nil
    }

    /// The error for a file whose first line is not our header: say what it looks like instead.
    private static func notOurFormat(_ file: [UInt8], newline: Int?, path: String) -> StateStoreError {
        if let newline, claimedHeader(file[..<newline]) != nil {
            return StateStoreError(
                .corrupt, "\(path) has a malformed header line.", hint: recoveryHint, path: path)
        }
        if isPlainJSON(file) {
            return StateStoreError(
                .unverifiable,
                "\(path) is plain JSON, not a StateCoordinator state file, so it cannot be verified.",
                hint: "Import it into a new store: StateStore.importPlainJSON(from:) or `statectl init --from FILE` (move it aside first).",
                path: path)
        }
        return StateStoreError(
            .unverifiable, "\(path) is neither a StateCoordinator state file nor JSON.",
            hint: "Something other than a StateCoordinator writer replaced it. " + recoveryHint, path: path)
    }
}
