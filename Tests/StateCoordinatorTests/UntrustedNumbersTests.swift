import Foundation
import Testing

@testable @_spi(FaultInjection) import StateCoordinator

/// Core-correctness item 8: numbers from a damaged or foreign header, from a caller or from the
/// command line never trap; each gets a clear error.
@Suite("Untrusted numbers")
struct UntrustedNumbersTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    /// Writes a state file whose header says whatever `change` makes it say (checksum and size
    /// kept right, so only the numbers are wrong).
    private func forge(_ change: (inout String) -> Void) throws {
        _ = try StateStore<JSONValue>.create(directory: dir.path)
        let state = Array("{}\n".utf8)
        let header = StateFileHeader(
            format: StateFileHeader.formatIdentifier, revision: 1, store: "s", version: 3, committedAt: CommitTimestamp.format(Date()),
            writer: WriterIdentity(pid: 1, host: "h", label: "l"), settings: StoreSettings(), stateBytes: state.count,
            checksum: Checksum.of(state))
        var line = String(decoding: StateFileCodec.encode(header: header, stateBytes: []).dropLast(), as: UTF8.self)
        change(&line)
        try Data((line + "\n").utf8 + state).write(to: URL(fileURLWithPath: dir.file("state.json")))
    }

    @Test(arguments: [
        (#""maxStateBytes":67108864"#, #""maxStateBytes":9223372036854775807"#),
        (#""maxStateBytes":67108864"#, #""maxStateBytes":-1"#),
        (#""version":3"#, #""version":-1"#),
        (#""version":3"#, #""version":1e400"#),
        (#""stateBytes":3"#, #""stateBytes":-3"#),
        (#""stateBytes":3"#, #""stateBytes":9223372036854775807"#),
        (#""keepHistory":0"#, #""keepHistory":-5"#),
        (#""revision":1"#, #""revision":-9223372036854775808"#),
    ])
    func aForgedHeaderIsCorruptNotACrash(field: String, forged: String) throws {
        try forge { $0 = $0.replacingOccurrences(of: field, with: forged) }
        let store = try ReadOnlyStateStore<JSONValue>(directory: dir.path)
        #expect(throws: StateStoreError.self) { try store.read() }
        let get = try statectl("get")
        #expect(get.status == 5, "\(get)")
        #expect(try statectl("verify").status == 5)
        #expect(try statectl("init", "--force").status == 0, "a forged store can be recovered")
    }

    @Test func theLastVersionThereIsCannotBeCommittedOver() async throws {
        try forge { $0 = $0.replacingOccurrences(of: #""version":3"#, with: #""version":18446744073709551615"#) }
        let store = try await StateStore<JSONValue>(directory: dir.path)
        await #expect(try store.read().version == .max)
        await #expect { try await store.update { try $0.set(1, forKey: "a") } } throws: { ($0 as? StateStoreError)?.code == .corrupt }
        #expect(try statectl("set", "/a", "1").status == 5)
    }

    @Test func fileTimesFarInThePastOrFutureNeverTrap() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, settings: StoreSettings(keepHistory: 2))
        try await store.update { try $0.set(1, forKey: "a") }
        for (name, date) in [("state.json", "2300-01-01"), ("state.lock", "1600-01-01"), ("state.history", "2400-06-01")] {
            let touch = Process()
            touch.executableURL = URL(fileURLWithPath: "/usr/bin/touch")
            touch.arguments = ["-d", date, dir.file(name)]
            try touch.run()
            touch.waitUntilExit()
            #expect(touch.terminationStatus == 0)
        }
        await #expect(try store.read().state["a"] == 1)
        let reader = try await StateObservation().reader(in: store)
        defer { reader.close() }
        try await store.update { try $0.set(2, forKey: "a") }
        await #expect(store.verify().isHealthy)
        #expect(try statectl("get", "/a").stdout == "2\n")
        #expect(try statectl("status").status == 0)
        #expect(FileStatus.nanoseconds(timespec(tv_sec: .max, tv_nsec: 999_999_999)) == .max)
        #expect(FileStatus.nanoseconds(timespec(tv_sec: .min, tv_nsec: 0)) == .min)
    }

    @Test func extremeDurationsSaturate() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path)
        let patient = try await StateStore<JSONValue>(directory: dir.path, options: StateStoreOptions(lockTimeout: .seconds(Int64.max)))
        try await patient.update { try $0.set(1, forKey: "a") }
        let reader = try await StateObservation(options: WatchOptions(pollInterval: .seconds(Int64.max), consistencyCheckInterval: .seconds(Int64.max))).reader(in: store)
        defer { reader.close() }
        let poller = try await StateObservation(options: WatchOptions(forcePolling: true, pollInterval: .zero)).reader(in: store)
        defer { poller.close() }
        try await store.update { try $0.set(2, forKey: "a") }
        #expect(Duration.seconds(Int64.max).saturatingNanoseconds == .max)
        #expect(Duration.seconds(-5).saturatingNanoseconds == 0)
        #expect(Duration.milliseconds(1).saturatingNanoseconds == 1_000_000)
    }

    @Test func commandLineNumbersOutOfRangeAreRefusedClearly() throws {
        #expect(try statectl("init", "--max-size", "9223372036854775807").status == 2)
        #expect(try statectl("init", "--keep-history", "9223372036854775807").status == 2)
        #expect(try dir.names().isEmpty, "a refused init touches nothing")
        #expect(try statectl("init").status == 0)
        for arguments in [["--lock-timeout", "1e300", "set", "/a", "1"], ["--lock-timeout", "inf", "get"], ["--lock-timeout", "nan", "get"],
            ["watch", "--timeout", "inf"], ["watch", "--timeout", "1e308"], ["watch", "--timeout", "-1"]]
        {
            let result = try statectl.run(["--dir", dir.path] + arguments)
            #expect(result.status == 2, "\(arguments): \(result)")
        }
        let put = try statectl("put", dir.path)
        #expect(put.status == 1 && put.stderr.contains("Is a directory") && put.oneDiagnosticLine, "\(put)")
    }
}
