import Foundation
import Foundation
import Testing

@testable import StateCoordinator

@Suite("State file format")
struct FormatTests {
    private func header(for state: [UInt8], version: UInt64 = 3) -> StateFileHeader {
        StateFileHeader(
            format: "statecoordinator", revision: 1, store: "5b0e4c1e-0000-4000-8000-000000000000", version: version,
            committedAt: "2026-11-27T10:00:00.000Z", writer: WriterIdentity(pid: 42, host: "h", label: "t"),
            settings: StoreSettings(), stateBytes: state.count, checksum: Checksum.of(state))
    }

    @Test func roundTripsHeaderAndExactStateBytes() throws {
        let state = Array("{\"halt\":true}\n".utf8)
        let file = StateFileCodec.encode(header: header(for: state), stateBytes: state)
        let (decoded, bytes) = try StateFileCodec.decode(file, path: "s.json")
        #expect(decoded == header(for: state))
        #expect(Array(bytes) == state)
    }

    @Test func checksumIsSHA256OfTheStateBytes() {
        // printf '{}\n' | sha256sum
        #expect(Checksum.of(Array("{}\n".utf8)) == "sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356")
    }

    @Test func badChecksumIsCorrupt() throws {
        let state = Array("{\"a\":1}\n".utf8)
        var file = StateFileCodec.encode(header: header(for: state), stateBytes: state)
        file[file.count - 3] = UInt8(ascii: "2")
        let error = #expect(throws: StateStoreError.self) { try StateFileCodec.decode(file, path: "s.json") }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("fails its checksum") == true)
    }

    @Test func truncatedFileIsCorruptAndSaysSo() throws {
        let state = Array("{\"a\":1}\n".utf8)
        let file = StateFileCodec.encode(header: header(for: state), stateBytes: state)
        let error = #expect(throws: StateStoreError.self) { try StateFileCodec.decode(Array(file.dropLast(4)), path: "s.json") }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("truncated") == true)
    }

    @Test func plainJSONIsUnverifiableWithImportHint() {
        let error = #expect(throws: StateStoreError.self) {
            try StateFileCodec.decode(Array("{\"positions\": {\"AAPL\": 10}}\n".utf8), path: "s.json")
        }
        #expect(error?.code == .unverifiable)
        #expect(error?.hint?.contains("init --from") == true)
    }

    @Test func foreignBytesAreUnverifiable() {
        let error = #expect(throws: StateStoreError.self) {
            try StateFileCodec.decode(Array("garbage written in place\n\u{1}".utf8), path: "s.json")
        }
        #expect(error?.code == .unverifiable)
        #expect(error?.message.contains("neither") == true)
    }

    @Test func emptyFileIsCorrupt() {
        let error = #expect(throws: StateStoreError.self) { try StateFileCodec.decode([], path: "s.json") }
        #expect(error?.code == .corrupt)
    }

    @Test func newerRevisionIsRefused() throws {
        let state = Array("{}\n".utf8)
        var newer = header(for: state)
        newer.revision = StateFileHeader.currentRevision + 1
        let file = StateFileCodec.encode(header: newer, stateBytes: state)
        let error = #expect(throws: StateStoreError.self) { try StateFileCodec.decode(file, path: "s.json") }
        #expect(error?.code == .unverifiable)
        #expect(error?.message.contains("revision \(StateFileHeader.currentRevision + 1)") == true)
    }

    @Test(arguments: [Int64.max, Int64.min, 0, -1, 9_007_199_254_740_993])
    func integersRoundTripExactly(_ value: Int64) throws {
        let bytes = try StateEncoding.encode(JSONValue.object(["n": .int(value)]), limit: 1 << 20)
        let decoded = try StateEncoding.decode(JSONValue.self, from: bytes, path: "x", source: .input)
        #expect(decoded["n"] == .int(value))
    }

    @Test func doublesRoundTripAsDoubles() throws {
        for value in [0.1, -2.5e-300, 1.7976931348623157e308, 3.141592653589793] {
            let bytes = try StateEncoding.encode(JSONValue.array([.double(value)]), limit: 1 << 20)
            #expect(try StateEncoding.decode(JSONValue.self, from: bytes, path: "x", source: .input) == .array([.double(value)]))
        }
    }

    @Test func numberBeyondInt64IsKeptExactly() throws {
        let decoded = try StateEncoding.decode(JSONValue.self, from: Array("18446744073709551616".utf8), path: "x", source: .input)
        #expect(decoded == .largeInteger("18446744073709551616"))
        #expect(try StateEncoding.encode(decoded, limit: 100) == Array("18446744073709551616\n".utf8))
    }

    @Test func nonFiniteDoubleIsRefusedOnEncode() {
        let error = #expect(throws: StateStoreError.self) {
            try StateEncoding.encode(JSONValue.double(.nan), limit: 1 << 20)
        }
        #expect(error?.code == .badState)
    }

    @Test func historyFileNamesSortByVersion() {
        #expect(StoreFiles.historyFile(version: 42) == "00000000000000000042.json")
        #expect(StoreFiles.version(ofHistoryFile: "00000000000000000042.json") == 42)
        #expect(StoreFiles.version(ofHistoryFile: "notes.txt") == nil)
    }

    @Test(arguments: ["", "a.b", "../x", "a/b", "with space", String(repeating: "x", count: 201)])
    func storeNamesThatCouldCollideAreRefused(_ name: String) {
        #expect(throws: StateStoreError.self) { try StoreFiles(name: name) }
    }

    @Test func procLocksLineNamesTheHolder() {
        let table = """
            1: POSIX  ADVISORY  WRITE 77 00:2a:999 0 EOF
            2: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF
            2: -> FLOCK  ADVISORY  WRITE 5151 fd:01:1234 0 EOF
            """
        let device: UInt64 = (0xfd << 8) | 0x01
        #expect(LockHolder.find(device: device, inode: 1234, procLocks: table)?.pid == 4242)
        #expect(LockHolder.find(device: device, inode: 999, procLocks: table) == nil)
    }
}

@Suite("Commit timestamps")
struct CommitTimestampTests {
    @Test(arguments: ["2026-11-27T14:21:04.123Z", "1970-01-01T00:00:00.000Z", "2000-02-29T23:59:59.999Z", "2100-03-01T00:00:00.001Z"])
    func fastParseAgreesWithTheGeneralParser(_ text: String) throws {
        let general = try Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text)
        let parsed = try #require(CommitTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(general)) < 0.0005)
        #expect(CommitTimestamp.format(parsed) == text)
    }

    /// The direct formatter writes what the general one writes, across leap years, month and
    /// year ends, and the milliseconds' truncation (10,000 instants from 1970 to 2400, seeded).
    @Test func directFormatAgreesWithTheGeneralFormatter() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        var generator = SplitMix64(seed: 24)
        let edges: [TimeInterval] = [0, 0.0009, 0.999, 951_782_399.999, 951_868_800, 4_107_542_399.999, 1_798_761_599.9995]
        let random = (0..<10_000).map { _ in Double(generator.next() % 13_569_465_600_000) / 1000 + Double(generator.next() % 1000) / 1e6 }
        for seconds in edges + random {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(CommitTimestamp.format(date) == style.format(date), "at \(seconds)")
        }
        // Dates as `Date()` makes them: held as seconds since 2001, fractions on that value's grid
        // (derived from the 1970-based interval, a few in 100,000 came out a millisecond early).
        for _ in 0..<30_000 {
            let date = Date(timeIntervalSinceReferenceDate: 820_000_000 + Double(generator.next() % 100_000_000_000_000) / 1e6)
            #expect(CommitTimestamp.format(date) == style.format(date), "at \(date.timeIntervalSinceReferenceDate)")
        }
        let reported = Date(timeIntervalSinceReferenceDate: 828_457_691.8690001)
        #expect(CommitTimestamp.format(reported) == style.format(reported))
    }

    @Test func foreignFormsStillParse() {
        #expect(CommitTimestamp.parse("2026-11-27T15:21:04.123+01:00") != nil)
        #expect(CommitTimestamp.parse("2026-11-27T14:21:04Z") != nil)
        #expect(CommitTimestamp.parse("yesterday") == nil)
    }

    @Test func tempNamesAreUnpredictableAndWellFormed() {
        let names = Set((0..<1000).map { _ in TempFileName.make(prefix: ".state.tmp-") })
        #expect(names.count == 1000)
        #expect(names.allSatisfy { $0.count == ".state.tmp-".count + 16 && $0.hasPrefix(".state.tmp-") })
    }
}

@Suite("Header line")
struct HeaderLineTests {
    private static let strings = ["h", "host.example", "bot \"alpha\"", "back\\slash", "slash/ed", "tab\tand\nnew", "\u{01}\u{1F}", "ünïcødé ✓", ""]

    private static func header(settings: StoreSettings, host: String, label: String, version: UInt64) -> StateFileHeader {
        StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: StateFileHeader.revision(for: settings),
            store: "5b0e4c1e-0000-4000-8000-000000000000", version: version, committedAt: "2026-12-06T18:00:00.123Z",
            writer: WriterIdentity(pid: 4_194_304, host: host, label: label), settings: settings, stateBytes: 1 << 20,
            checksum: Checksum.of(Array("{}\n".utf8)))
    }

    /// The direct writer and `JSONEncoder` (sorted keys, slashes unescaped) write the same bytes,
    /// for headers of every revision and strings that need escapes; the line reads back equal.
    @Test func theDirectWriterWritesWhatJSONEncoderWrites() throws {
        let settings = [
            StoreSettings(), StoreSettings(keepHistory: 7, maximumStateBytes: 1 << 30, fileMode: 0o7),
            StoreSettings(keepHistoryFor: .seconds(3600)), StoreSettings(readerUsers: [0, 1000, 4_294_967_294]),
            StoreSettings(keepHistory: 1, keepHistoryFor: .seconds(86400), fileMode: 0o660, readerUsers: [33]),
        ]
        var withSchema = StoreSettings()
        withSchema.schema = "sha256:" + String(repeating: "ab", count: 32)
        for settings in settings + [withSchema] {
            for host in Self.strings {
                for (label, version) in zip(Self.strings.reversed(), [0, 1, 9, 10, 99, UInt64.max, 1 << 53, 42, 7] as [UInt64]) {
                    var header = Self.header(settings: settings, host: host, label: label, version: version)
                    for combined in [nil, [], [label], ["0000018f00000000-000004d2-00000000000000ff", host]] as [[String]?] {
                        header.combined = combined
                        let encoded = Array(try StateEncoding.makeEncoder().encode(header))
                        #expect(header.line == encoded, "\(String(decoding: header.line, as: UTF8.self))")
                        #expect(StateFileHeader.decode(header.line[...]) == header)
                    }
                }
            }
        }
    }
}

/// A seeded generator (SplitMix64), so that a failing instant can be found again.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
