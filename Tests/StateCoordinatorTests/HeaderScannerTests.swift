import Foundation
import Testing

@testable import StateCoordinator

/// The fast header reader must never disagree with JSONDecoder: for every line it accepts, the
/// result is JSONDecoder's; everything else it leaves to JSONDecoder.
@Suite("Header scanner")
struct HeaderScannerTests {
    private static let canonical = StateFileHeader(
        format: "statecoordinator", revision: 1, store: "5b0e4c1e-0000-4000-8000-000000000000", version: 1234,
        committedAt: "2026-11-27T10:00:00.000Z", writer: WriterIdentity(pid: 4242, host: "vm", label: "bot"),
        settings: StoreSettings(keepHistory: 5, maximumStateBytes: 1 << 20, fileMode: 0o640), stateBytes: 17,
        checksum: Checksum.of(Array("{\"halt\":false}\n".utf8)))

    private static func encoded(_ header: StateFileHeader) throws -> ArraySlice<UInt8> {
        let file = StateFileCodec.encode(header: header, stateBytes: [])
        return file[..<(file.count - 1)]  // without the line feed
    }

    private static func jsonDecoder(_ line: ArraySlice<UInt8>) -> StateFileHeader? {
        try? JSONDecoder().decode(StateFileHeader.self, from: Data(line))
    }

    /// The scanner either declines or agrees with JSONDecoder; and the combined decode always
    /// equals JSONDecoder's answer.
    private func expectAgreement(_ text: String, scannerAccepts: Bool?, sourceLocation: SourceLocation = #_sourceLocation) {
        let line = ArraySlice(text.utf8)
        let scanned = HeaderScanner.header(line)
        let reference = Self.jsonDecoder(line)
        if let scanned { #expect(scanned == reference, "\(text)", sourceLocation: sourceLocation) }
        if let scannerAccepts { #expect((scanned != nil) == scannerAccepts, "\(text)", sourceLocation: sourceLocation) }
        #expect(StateFileHeader.decode(line) == reference, "\(text)", sourceLocation: sourceLocation)
    }

    @Test func readsTheHeaderThisPackageWrites() throws {
        let line = try Self.encoded(Self.canonical)
        #expect(HeaderScanner.header(line) == Self.canonical)
        #expect(Self.jsonDecoder(line) == Self.canonical)
    }

    @Test func readsHeadersOfRandomContent() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var header = Self.canonical
            header.version = UInt64.random(in: 0...UInt64.max, using: &generator)
            header.stateBytes = Int.random(in: 0...Int.max, using: &generator)
            header.writer.pid = Int32.random(in: 0...Int32.max, using: &generator)
            header.writer.label = String((0..<Int.random(in: 0...12)).map { _ in "aé€𝄞 -_.x9\u{7F}".randomElement()! })
            header.settings.fileMode = UInt32.random(in: 0...0o777)
            let line = try Self.encoded(header)
            #expect(HeaderScanner.header(line) == header)
        }
    }

    @Test func acceptsAnyMemberOrderAndWhitespace() {
        let text = """
             { "version" : 7 ,"writer":{"label":"py","pid":9,"host":"h"},\t"format":"statecoordinator",
            "revision":1,"store":"s","committedAt":"2026-11-27T10:00:00+01:00","stateBytes":3,
            "settings":{ "maxStateBytes":100,"fileMode":"0600","keepHistory":0 },"checksum":"sha256:00"}\r
            """
        expectAgreement(text, scannerAccepts: true)
    }

    @Test(arguments: [
        // Escapes, unknown members, duplicates and other number forms go to JSONDecoder.
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"a\"b","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"\u00e9","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x","future":[1,{"a":null}]}"#,
        #"{"format":"statecoordinator","revision":1.0,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7e0,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":07,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":18446744073709551616,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"l","pid":2147483648},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0648","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
    ])
    func leavesEverythingElseToJSONDecoder(_ text: String) {
        expectAgreement(text, scannerAccepts: false)
    }

    /// JSONDecoder alone would take these; the strict fallback (a duplicate member) and the range
    /// check (a negative keepHistory) refuse them.
    @Test(arguments: [
        
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"version":8,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":0,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
        #"{"format":"statecoordinator","revision":1,"store":"s","version":7,"committedAt":"c","writer":{"host":"h","label":"l","pid":1},"settings":{"fileMode":"0640","keepHistory":-1,"maxStateBytes":1},"stateBytes":0,"checksum":"x"}"#,
    ])
    func refusesDuplicatesAndNumbersOutOfRange(_ text: String) {
        #expect(HeaderScanner.header(ArraySlice(text.utf8)) == nil)
        #expect(StateFileHeader.decode(ArraySlice(text.utf8)) == nil, "\(text)")
    }

    @Test func refusesWhatIsNotAHeader() throws {
        let line = try Self.encoded(Self.canonical)
        for cut in [1, 2, 10, line.count / 2, line.count - 1] {
            expectAgreement(String(decoding: line.dropLast(cut), as: UTF8.self), scannerAccepts: false)
        }
        for text in ["", "{}", "[]", "null", #"{"format":"statecoordinator"}"#, String(decoding: line, as: UTF8.self) + " x"] {
            expectAgreement(text, scannerAccepts: false)
        }
        // Invalid UTF-8 inside a string.
        var broken = Array(line)
        let label = broken.firstRange(of: Array("\"bot\"".utf8))!
        broken[label.lowerBound + 1] = 0xFF
        #expect(HeaderScanner.header(ArraySlice(broken)) == nil)
        #expect(StateFileHeader.decode(ArraySlice(broken)) == nil)
        // A control character inside a string.
        broken[label.lowerBound + 1] = 0x01
        #expect(HeaderScanner.header(ArraySlice(broken)) == nil)
    }

    @Test func checksumComparisonMatchesTheText() {
        let bytes = Array("{\"halt\":true}\n".utf8)
        let text = Checksum.of(bytes)
        #expect(Checksum.matches(bytes, text))
        #expect(!Checksum.matches(bytes, text.uppercased()))
        #expect(!Checksum.matches(bytes, String(text.dropLast())))
        #expect(!Checksum.matches(bytes, text + "0"))
        #expect(!Checksum.matches(bytes, "sha512:" + text.dropFirst(7)))
        #expect(!Checksum.matches(bytes + [0], text))
        for position in text.indices.dropFirst(7) {
            var altered = text
            altered.replaceSubrange(position...position, with: text[position] == "0" ? "1" : "0")
            #expect(!Checksum.matches(bytes, altered))
        }
    }
}
