import Foundation
import Testing

@testable import StateCoordinator

/// History an operator can rely on: kept by count and by age (a version stays while either rule
/// keeps it), and listed by writer and time.
@Suite("History retention and filters")
struct HistoryRetentionTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    /// Ages a kept version's file as if it had been committed `seconds` ago.
    private func age(_ version: UInt64, by seconds: Int) {
        let path = dir.file("state.history/" + StoreFiles.historyFile(version: version))
        var times = [timespec(tv_sec: time(nil) - seconds, tv_nsec: 0), timespec(tv_sec: time(nil) - seconds, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func aVersionStaysWhileEitherTheCountOrTheAgeKeepsIt() throws {
        #expect(try statectl("init", "--keep-history", "2", "--keep-history-for", "1h").status == 0)
        for n in 1...10 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        #expect(try dir.names(in: "state.history").count == 10, "every version of the last hour is kept, not just 2")
        for version in UInt64(0)...6 { age(version, by: 7200) }
        #expect(try statectl("set", "/n", "11").status == 0)
        let kept = try dir.names(in: "state.history").compactMap(StoreFiles.version(ofHistoryFile:))
        #expect(kept == [7, 8, 9, 10], "versions older than an hour go, younger ones stay")
        for version in UInt64(7)...10 { age(version, by: 7200) }
        #expect(try statectl("set", "/n", "12").status == 0)
        #expect(try dir.names(in: "state.history").compactMap(StoreFiles.version(ofHistoryFile:)) == [10, 11], "then the count keeps the newest 2")
        #expect(try statectl("verify").status == 0)
    }

    @Test func ageRetentionIsNamedInTheHeaderAsRevision3() throws {
        let store = try StateStore<JSONValue>.create(
            directory: dir.path, initial: [:], settings: StoreSettings(keepHistory: 1, keepHistoryFor: .seconds(90)))
        let header = String(decoding: try dir.contents("state.json").prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        #expect(header.contains(#""revision":3"#) && header.contains(#""keepHistorySeconds":90"#), "\(header)")
        try store.update { try $0.set(1, forKey: "a") }
        #expect(try store.read().settings.keepHistoryFor == .seconds(90), "carried forward")
        #expect(throws: StateStoreError.self) {
            try StateStore<JSONValue>.create(directory: dir.path, name: "other", initial: [:], settings: StoreSettings(keepHistoryFor: .seconds(0)))
        }
        let status = try statectl("status", "--json")
        #expect(status.stdout.contains(#""seconds" : 90"#), "\(status)")
    }

    @Test func retentionCanBeChangedOnALiveStore() throws {
        #expect(try statectl("init").status == 0)
        #expect(try statectl("set", "/n", "1").status == 0)
        let changed = try statectl("history", "--keep-history", "2", "--keep-history-for", "1h")
        #expect(changed.status == 0 && changed.stdout == "2\n", "\(changed)")
        for n in 2...6 { #expect(try statectl("set", "/n", "\(n)").status == 0) }
        #expect(try dir.names(in: "state.history").count == 5, "versions 2-6 are kept from the change on: \((try? dir.names(in: "state.history")) ?? [])")
        #expect(try statectl("history", "--keep-history", "1", "--keep-history-for", "none").status == 0)
        #expect(try statectl("set", "/n", "7").status == 0)
        #expect(try dir.names(in: "state.history").compactMap(StoreFiles.version(ofHistoryFile:)) == [8], "by count alone again: \((try? dir.names(in: "state.history")) ?? [])")
        let settings = try ReadOnlyStateStore<JSONValue>(directory: dir.path).read().settings
        #expect(settings.keepHistory == 1 && settings.keepHistoryFor == nil)
        #expect(try statectl("history", "--keep-history", "-1").status == 2)
        #expect(try statectl("history", "--keep-history-for", "1h").status == 2)
        #expect(throws: StateStoreError.self) {
            try StateStore<JSONValue>(directory: dir.path).setHistoryRetention(keeping: StoreSettings.largestKeepHistory + 1)
        }
    }

    @Test func historyListsByWriterAndSince() throws {
        #expect(try statectl("init", "--keep-history", "50").status == 0)
        for n in 1...3 { #expect(try statectl("--label", "bot-eu-1", "set", "/n", "\(n)").status == 0) }
        #expect(try statectl("--label", "operator", "set", "/halt", "true").status == 0)
        for n in 4...6 { #expect(try statectl("--label", "bot-eu-1", "set", "/n", "\(n)").status == 0) }
        #expect(try statectl("set", "/n", "7").status == 0)

        let operator_ = try statectl("history", "--writer", "operator")
        #expect(operator_.status == 0 && operator_.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["4"], "\(operator_)")
        let bots = try statectl("history", "--writer", "bot-eu-1", "--limit", "2")
        #expect(bots.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["7", "6"], "\(bots)")

        let listing = try ReadOnlyStateStore<JSONValue>(directory: dir.path).history()
        let cutoff = try #require(listing.first { $0.version == 5 }).committedAt
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let since = try statectl("history", "--since", formatter.string(from: cutoff))
        #expect(since.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] } == ["7", "6", "5"], "\(since)")
        #expect(try statectl("history", "--since", "1h").stdout.split(separator: "\n").count == 8)
        let bad = try statectl("history", "--since", "yesterday")
        #expect(bad.status == 2 && bad.stderr.contains("--since takes"), "\(bad)")
    }
}
