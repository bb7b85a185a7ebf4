import Foundation
import Hummingbird
import Testing

@testable import StateCoordinator
@testable import state_sidecar

/// The sidecar's parts on their own: the mailbox's bounds, the stream's sequence (gaps, resets,
/// replays), the loopback test, the token parsing and the watch check of /readyz.
@Suite("state-sidecar parts")
struct SidecarPartsTests {
    let dir = TemporaryDirectory()

    /// The events a stream wrote, as "v N", "gap A B", "reset" lines.
    final class CollectingWriter: ResponseBodyWriter {
        var lines: [String] = []
        func write(_ buffer: ByteBuffer) async throws {
            let text = String(buffer: buffer)
            if text.hasPrefix("event: gap") || text.hasPrefix("event: reset") {
                let data = try JSONValue(parsing: Array(text.split(separator: "\n")[1].dropFirst(6).utf8))
                lines.append(text.hasPrefix("event: gap") ? "gap \(Self.digits(data["from"])) \(Self.digits(data["to"]))" : "reset")
            } else if text.hasPrefix("id: ") {
                lines.append("v " + text.dropFirst(4).prefix { $0 != "\n" })
            }
        }
        static func digits(_ value: JSONValue?) -> String {
            switch value {
            case .int(let number): String(number)
            case .largeInteger(let digits): digits
            default: "?"
            }
        }
        func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
            for buffer in buffers { try await write(buffer) }
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    func version(_ number: UInt64, store: String = "s1", bytes: Int = 10) -> EncodedVersion {
        EncodedVersion(StateSnapshot(
            state: ["pad": .string(String(repeating: "x", count: bytes))], version: number, committedAt: Date(),
            writer: WriterIdentity(pid: 1, host: "h", label: "t"), storeID: store, checksum: "", fileSize: 0))
    }

    @Test func aMailboxPastItsCapacityKeepsTheNewestVersions() async {
        let mailbox = StreamMailbox(capacity: 3)
        var dropped = 0
        for number in 1...10 { dropped += mailbox.offer(version(UInt64(number))) }
        #expect(dropped == 7)
        var taken: [UInt64] = []
        mailbox.close()
        while let delivery = await mailbox.next() { taken += delivery.version.map { [$0.version] } ?? [] }
        #expect(taken == [8, 9, 10])
    }

    @Test func aMailboxPastItsByteBudgetKeepsTheNewestEvenWhenItAloneIsLarger() async {
        let mailbox = StreamMailbox(capacity: 64, byteBudget: 1000)
        for number in 1...5 { mailbox.offer(version(UInt64(number), bytes: 300)) }
        mailbox.offer(version(6, bytes: 5000))
        mailbox.close()
        var taken: [UInt64] = []
        while let delivery = await mailbox.next() { taken += delivery.version.map { [$0.version] } ?? [] }
        #expect(taken == [6])
    }

    @Test func aWaitingStreamWakesForAVersionAKeepAliveAndTheClose() async {
        let (parks, parking) = AsyncStream<Void>.makeStream()
        let mailbox = StreamMailbox(parked: { parking.yield() })
        async let first = mailbox.next()
        var parked = parks.makeAsyncIterator()
        _ = await parked.next()  // the stream waits: the offer must wake it
        mailbox.offer(version(1))
        #expect(await first?.version?.version == 1)
        async let second = mailbox.next()
        mailbox.keepAlive()
        #expect(await second?.keepAlive == true)
        async let third = mailbox.next()
        mailbox.close()
        #expect(await third == nil)
        #expect(mailbox.offer(version(2)) == 0, "a closed mailbox takes nothing")
    }

    @Test func theCursorWritesGapsSkipsRepeatsAndResetsOnANewIdentity() async throws {
        let store = try await ReadOnlyStateStore<JSONValue>(directory: try StateStore<JSONValue>.create(directory: dir.path).directory)
        var cursor = StreamCursor(resumingAfter: nil)
        var writer: any ResponseBodyWriter = CollectingWriter()
        for number: UInt64 in [3, 4, 4, 2, 9, 1] { try await cursor.write(version(number), from: store, into: &writer) }
        try await cursor.write(version(0, store: "s2"), from: store, into: &writer)
        try await cursor.write(version(UInt64.max, store: "s2"), from: store, into: &writer)
        #expect((writer as! CollectingWriter).lines == ["v 3", "v 4", "gap 5 8", "v 9", "reset", "v 0", "gap 1 \(UInt64.max - 1)", "v \(UInt64.max)"])
    }

    @Test func aResumingCursorReplaysHistoryAndGapsWhatIsNotKept() async throws {
        let writerStore = try await StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 3))
        for number in 1...8 { try await writerStore.replace(with: ["n": .int(Int64(number))]) }
        let store = try await ReadOnlyStateStore<JSONValue>(directory: dir.path)
        let current = try await store.read()
        var cursor = StreamCursor(resumingAfter: 2)
        var writer: any ResponseBodyWriter = CollectingWriter()
        try await cursor.write(EncodedVersion(current), from: store, into: &writer)
        // Kept: 5, 6, 7 (history depth 3); 3 and 4 are gone.
        #expect((writer as! CollectingWriter).lines == ["gap 3 4", "v 5", "v 6", "v 7", "v 8"])
        var beyond = StreamCursor(resumingAfter: UInt64.max)
        var other: any ResponseBodyWriter = CollectingWriter()
        try await beyond.write(EncodedVersion(current), from: store, into: &other)
        #expect((other as! CollectingWriter).lines == ["reset", "v 8"])
    }

    @Test func onlyLoopbackLiteralsAndLocalhostCountAsLoopback() {
        for loopback in ["127.0.0.1:1", "127.255.0.9:1", "[::1]:1", "localhost:1"] { #expect(ListenAddress(loopback)?.isLoopback == true, "\(loopback)") }
        for other in ["127.example.com:1", "0.0.0.0:1", "[::]:1", "10.0.0.1:1", "[::ffff:127.0.0.1]:1", "1270.0.0.1:1"] {
            #expect(ListenAddress(other)?.isLoopback == false, "\(other)")
        }
        for bad in ["127.0.0.1", ":80", "host:99999", "host:-1"] { #expect(ListenAddress(bad) == nil, "\(bad)") }
    }

    @Test func tokensComeAsBearerOrAsTheBasicPassword() {
        typealias Middleware = BearerTokenMiddleware<SidecarRequestContext>
        #expect(Middleware.presentedToken("Bearer abc") == Array("abc".utf8))
        #expect(Middleware.presentedToken("basic " + Data("user:pa:ss".utf8).base64EncodedString()) == Array("pa:ss".utf8))
        #expect(Middleware.presentedToken("Basic " + Data("no-colon".utf8).base64EncodedString()) == nil)
        #expect(Middleware.presentedToken("Basic %%%") == nil)
        #expect(Middleware.presentedToken("Digest x") == nil)
        #expect(Middleware.presentedToken("Bearer") == nil)
        #expect(Middleware.constantTimeEqual(Array("token".utf8), Array("token".utf8)))
        #expect(!Middleware.constantTimeEqual(Array("token".utf8), Array("token".utf8) + [UInt8](repeating: 0, count: 256)))
        #expect(!Middleware.constantTimeEqual([], Array("t".utf8)))
    }

    @Test func theWatchCheckFailsOnlyAfterAQuietSpellLongerThanItsInterval() async throws {
        _ = try await StateStore<JSONValue>.create(directory: dir.path)
        let monitor = try await StoreMonitor.open(directory: dir.path, name: "state", registry: .init())
        let start = ContinuousClock.now
        #expect(monitor.watchProblem(now: start, looks: 7) == nil, "the first call takes note")
        #expect(monitor.watchProblem(now: start + .milliseconds(500), looks: 7) == nil)
        // A look comes at least every second (the consistency check, or the poll); none in 3 s
        // (inotify) or 1 s (polling) is stuck.
        #expect(monitor.watchProblem(now: start + .seconds(4), looks: 7)?.contains("has not looked at the state file for 4.0 s") == true)
        #expect(monitor.watchProblem(now: start + .seconds(5), looks: 8) == nil, "a new look clears it")
        monitor.reader.close()
        #expect(monitor.watchProblem() == "the watch is closed")
    }

    @Test func delaysAreClampedNeverATrap() {
        let now = Date()
        #expect(StoreMonitor.delay(from: now, to: now.addingTimeInterval(-5)) == .zero)
        #expect(StoreMonitor.delay(from: Date(timeIntervalSince1970: -30_000_000_000), to: now) == .seconds(365 * 86_400))
    }
}
