import Foundation
import Testing

@testable import StateCoordinator

/// The scenarios with real processes: registered reader processes (StateReaders, watches,
/// Python, statectl watch), stopped and killed with real signals, and the operator's
/// `statectl set … --await-ack`.
extension ProcessTests {
    @Suite("Reader registry and acknowledgements")
    struct ReaderRegistryTests {
        let dir = TemporaryDirectory()
        var cli: CLI { CLI(directory: dir.path) }

        /// Starts one `registered-reader` helper per (label, mode) and waits until each registered.
        func startReaders(_ readers: [(label: String, mode: String)]) throws -> [RunningHelper] {
            let helpers = try readers.map { try RunningHelper(["registered-reader", dir.path, $0.label, $0.mode]) }
            for helper in helpers {
                #expect(helper.waitForLine { $0.hasPrefix("registered ") }, "\(helper.waitForExitIfEnded())")
            }
            return helpers
        }

        func liveReaders() throws -> [RegisteredReader] { try ReadOnlyStateStore<JSONValue>(directory: dir.path).readers() }

        /// The JSON object statectl printed.
        func json(_ result: CLI.Result) throws -> [JSONKey: JSONValue] {
            guard case .object(let object) = try JSONValue(parsing: Array(result.stdout.utf8)) else { throw CocoaError(.coderInvalidValue) }
            return object
        }

        func labels(_ report: JSONValue?, _ key: JSONKey) -> [String] {
            guard case .object(let object)? = report, case .array(let readers)? = object[key] else { return [] }
            return readers.compactMap { if case .string(let label)? = $0["label"] { label } else { nil } }.sorted()
        }

        // 1.
        @Test func tenReadersAllApplyTheHaltBeforeSetReturns() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let bots = try startReaders((0..<10).map { ("bot-\($0)", $0 % 2 == 0 ? "reader" : "watch") })
            defer { bots.forEach { $0.signal(SIGKILL) } }
            let result = try cli("set", "/halt", "true", "--await-ack", "all", "--json")
            #expect(result.status == 0, "\(result)")
            let object = try json(result)
            let version = try #require(object["version"]?.intValue)
            #expect(labels(object["acknowledgements"], "applied") == (0..<10).map { "bot-\($0)" }.sorted())
            #expect(labels(object["acknowledgements"], "lagging").isEmpty)
            // When set returned, every reader's record already said so.
            let readers = try liveReaders()
            #expect(readers.count == 10)
            #expect(readers.allSatisfy { $0.applied?.version == UInt64(version) }, "\(readers)")
        }

        // 2.
        @Test func aStoppedReaderTimesOutNamedAloneAndIsCountedOnceContinued() throws {
            let store = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let bots = try startReaders([("alpha", "reader"), ("bravo", "watch"), ("charlie", "reader")])
            defer { bots.forEach { $0.signal(SIGKILL) } }
            bots[1].stop()
            let result = try cli("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "1")
            #expect(result.status == 10, "\(result)")
            #expect(result.stdout == "1\n", "the version is still printed: it is committed")
            let named = result.stderr.split(separator: "\n").filter { $0.contains("has not applied") }
            #expect(named.count == 1 && named[0].contains("bravo@root (pid \(bots[1].pid)"), "\(result.stderr)")
            #expect(!result.stderr.contains("alpha") && !result.stderr.contains("charlie"))
            bots[1].signal(SIGCONT)
            let report = store.waitForAcknowledgements(of: try store.read(), timeout: .seconds(30))
            #expect(report.isComplete, "\(report)")
            #expect(report.applied.map(\.label) == ["alpha", "bravo", "charlie"])
        }

        // 3a.
        @Test func aReaderKilledBeforeTheCommitIsNotWaitedForNorListed() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let bots = try startReaders([("doomed", "reader"), ("survivor", "watch")])
            defer { bots.forEach { $0.signal(SIGKILL) } }
            bots[0].signal(SIGKILL)
            _ = bots[0].waitForExit()
            let result = try cli("set", "/halt", "true", "--await-ack", "all", "--json", "--ack-timeout", "20")
            #expect(result.status == 0, "\(result)")
            let report = try json(result)["acknowledgements"]
            #expect(labels(report, "applied") == ["survivor"])
            #expect(labels(report, "died").isEmpty, "dead before the commit: not among those waited for")
            let listed = try cli("readers")
            #expect(listed.status == 0 && !listed.stdout.contains("doomed") && listed.stdout.contains("survivor"), "\(listed)")
            #expect(try dir.names(in: "state.readers").allSatisfy { !$0.hasPrefix("\(bots[0].pid)-") }, "its entry was removed")
        }

        // 3b.
        @Test func aReaderKilledDuringTheWaitIsReportedAsDied() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let bots = try startReaders([("victim", "reader"), ("healthy", "reader")])
            defer { bots.forEach { $0.signal(SIGKILL) } }
            bots[0].stop()
            let set = try RunningHelper(
                ["--dir", dir.path, "set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "30", "--json"], executable: CLI.url)
            // Killed once the wait is under way: the commit is visible and the healthy reader applied it.
            #expect(LockHolderWait.until(timeout: .seconds(30)) {
                (try? liveReaders().first { $0.label == "healthy" }?.applied?.version) == 1
            })
            bots[0].signal(SIGKILL)
            let (status, stdout, stderr) = set.waitForExit()
            #expect(status == 0, "\(stderr)")
            #expect(stderr.contains("victim@root (pid \(bots[0].pid)") && stderr.contains("died"), "\(stderr)")
            let report = try json(CLI.Result(status: status, stdout: stdout, stderr: stderr))["acknowledgements"]
            #expect(labels(report, "died") == ["victim"])
            #expect(labels(report, "applied") == ["healthy"])
        }

        // 4.
        @Test func aReaderWhoseDecodeFailsRejectsTheVersionWithItsError() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let bots = try startReaders([("typed-bot", "typed"), ("json-bot", "watch")])
            defer { bots.forEach { $0.signal(SIGKILL) } }
            let result = try cli("set", "/halt", "\"yes\"", "--await-ack", "all", "--ack-timeout", "20", "--json")
            #expect(result.status == 10, "\(result)")
            #expect(result.stderr.contains("typed-bot@root (pid \(bots[0].pid)") && result.stderr.contains("rejected version 1"), "\(result.stderr)")
            #expect(result.stderr.contains("does not decode as TypedRisk"), "the reader's own error: \(result.stderr)")
            let report = try json(result)["acknowledgements"]
            #expect(labels(report, "rejected") == ["typed-bot"])
            #expect(labels(report, "applied") == ["json-bot"])
            let status = try json(try cli("status", "--json"))["readers"]
            #expect(status == ["live": 2, "lagging": 1, "rejecting": 1, "warning": nil], "\(String(describing: status))")
            // A good version afterwards is applied, and the rejection is history.
            #expect(try cli("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "20").status == 0)
        }

        // 5.
        @Test func readersWithTheSamePidInTwoPidNamespacesAreNeverConfused() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            func inNewPidNamespace(_ label: String) throws -> RunningHelper {
                // unshare's child is pid 1 of a new namespace: every such reader has pid 1.
                let helper = try RunningHelper(
                    ["--pid", "--fork", "--kill-child", HelperProcess.url.path, "registered-reader", dir.path, label, "reader"],
                    executable: URL(fileURLWithPath: "/usr/bin/unshare"))
                #expect(helper.waitForLine { $0.hasPrefix("registered 1-") }, "\(helper.waitForExitIfEnded())")
                return helper
            }
            let first = try inNewPidNamespace("first")
            let second = try inNewPidNamespace("second")
            defer { [first, second].forEach { $0.signal(SIGKILL) } }
            var readers = try liveReaders()
            #expect(readers.map(\.processID) == [1, 1] && Set(readers.map(\.id)).count == 2, "\(readers)")
            first.signal(SIGKILL)  // --kill-child: its pid 1 dies with it
            _ = first.waitForExit()
            let third = try inNewPidNamespace("third")  // pid 1 again, reused
            defer { third.signal(SIGKILL) }
            #expect(LockHolderWait.until { (try? liveReaders().map(\.label).sorted()) == ["second", "third"] })
            let result = try cli("set", "/halt", "true", "--await-ack", "all", "--json", "--ack-timeout", "20")
            #expect(result.status == 0, "\(result)")
            #expect(labels(try json(result)["acknowledgements"], "applied") == ["second", "third"])
            readers = try liveReaders()
            #expect(readers.allSatisfy { $0.processID == 1 && $0.applied?.version == 1 })
        }

        // 6.
        @Test func acknowledgementsNeverWakeTheStoreDirectorysWatchers() async throws {
            let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let reader = try await StateObservation(label: "registered").reader(in: store)
            defer { reader.close() }
            // Watchers of the store directory: a library watch, and inotifywait from inotify-tools.
            let watch = StateObservation().events(in: store)
            var iterator = watch.makeAsyncIterator()
            _ = await iterator.next()
            let inotifywait = try RunningHelper(
                ["-m", "-e", "create,modify,moved_to,close_write,delete", "--format", "%f %e", dir.path],
                executable: URL(fileURLWithPath: "/usr/bin/inotifywait"))
            defer { inotifywait.signal(SIGKILL) }
            // Written until inotifywait reports it: then its watch is in place.
            #expect(
                await eventually {
                    try? "x".write(toFile: dir.file("before"), atomically: false, encoding: .utf8)
                    return inotifywait.lines.contains { $0.hasPrefix("before ") }
                }, "inotifywait is watching")
            let looks = iterator.statistics.looks
            // 200 acknowledgements and rejections, each written as its own record.
            let current = try await store.read()
            for round in 0..<100 {
                reader.reject(current, because: CocoaError(.coderInvalidValue))
                await reader.waitUntilReported()
                reader.acknowledge(version: current.version + UInt64(round) + 1)
                await reader.waitUntilReported()
            }
            let second = try await StateObservation(label: "another").reader(in: store)  // a registration, too
            await second.waitUntilReported()
            second.close()
            try "x".write(toFile: dir.file("after"), atomically: false, encoding: .utf8)
            #expect(await eventually { inotifywait.lines.contains { $0.hasPrefix("after ") } })
            let seen = inotifywait.lines.filter { !$0.hasPrefix("before ") && !$0.hasPrefix("after ") }
            #expect(seen.isEmpty, "events in the store directory: \(seen)")
            #expect(iterator.statistics.looks == looks, "the library watcher never looked again")
            let record = try await store.readers().first { $0.label == "registered" }
            #expect(record?.rejected?.version == current.version && record?.applied?.version == current.version + 100, "\(String(describing: record))")
        }

        // 7.
        @Test func thePythonPackageRegistersAndAcknowledges() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let program = """
                import sys
                entry = register(sys.argv[1], "py-bot")
                header, state = read_state(sys.argv[1])
                mark(entry, "loaded", header)
                mark(entry, "applied", header)
                print("registered " + entry["id"], flush=True)
                seen = header["version"]
                while sys.stdin.readline() == "poll\\n":  # a reader would watch with inotify; the test drives it
                    header, state = read_state(sys.argv[1])
                    if header["version"] != seen:
                        seen = header["version"]
                        mark(entry, "loaded", header)
                        mark(entry, "applied", header)
                    print("polled", flush=True)
                unregister(entry)
                print("unregistered", flush=True)
                """
            let python = try PythonParticipantTests().python(program, [dir.path])
            defer { python.signal(SIGKILL) }
            #expect(python.waitForLine { $0.hasPrefix("registered ") }, "\(python.waitForExitIfEnded())")
            let listed = try liveReaders()
            #expect(listed.map(\.label) == ["py-bot"] && listed.first?.processID == python.pid, "\(listed)")
            let set = try RunningHelper(["--dir", dir.path, "set", "/halt", "true", "--await-ack", "py-bot", "--ack-timeout", "30"], executable: CLI.url)
            // The Python reader polls until it has applied the version, then the wait ends.
            var polls = 0
            while set.process.isRunning && polls < 3000 {
                python.send(Data("poll\n".utf8))
                polls += 1
                #expect(python.waitForLine { $0 == "polled" && python.lines.filter { $0 == "polled" }.count >= polls })
            }
            let (status, stdout, stderr) = set.waitForExit()
            #expect(status == 0 && stdout == "1\n", "\(stderr)")
            #expect(try liveReaders().first?.applied?.version == 1)
            python.closeInput()
            #expect(python.waitForLine { $0 == "unregistered" })
            #expect(try liveReaders().isEmpty)
            #expect(try dir.names(in: "state.readers").isEmpty, "it removed its own entry")
        }

        @Test func statectlWatchAsLabelWithAckTakesPart() throws {
            try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let watcher = try RunningHelper(["--dir", dir.path, "watch", "--as", "sidecar", "--ack"], executable: CLI.url)
            defer { watcher.signal(SIGKILL) }
            #expect(watcher.waitForLine { $0.contains("\"version\":0") })
            #expect(LockHolderWait.until { (try? liveReaders().first?.applied?.version) == 0 })
            let result = try cli("set", "/halt", "true", "--await-ack", "sidecar", "--ack-timeout", "20")
            #expect(result.status == 0 && result.stderr.contains("note: confirmed by readers of user root; any local user may register any label"), "who confirmed a bare label is said: \(result)")
            let qualified = try cli("set", "/halt", "false", "--await-ack", "sidecar@root", "--ack-timeout", "20")
            #expect(qualified.status == 0 && qualified.stderr.isEmpty, "with its user, nothing to say: \(qualified)")
            // Without --ack it only reports what it loaded, and a wait for it times out naming it.
            let passive = try RunningHelper(["--dir", dir.path, "watch", "--as", "passive"], executable: CLI.url)
            defer { passive.signal(SIGKILL) }
            #expect(passive.waitForLine { $0.contains("\"version\":2") })
            let waited = try cli("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "1")
            #expect(waited.status == 10 && waited.stderr.contains("passive@root (pid \(passive.pid)") && waited.stderr.contains("acknowledged nothing"), "\(waited)")
            #expect(!waited.stderr.contains("sidecar"))
            let usage = try cli("watch", "--ack")
            #expect(usage.status == 2 && usage.stderr.contains("--ack needs --as"), "\(usage)")
        }
    }
}

extension RunningHelper {
    /// The output so far of a helper that ended (for a failure message); empty while it runs.
    func waitForExitIfEnded() -> String {
        guard !process.isRunning else { return "still running; stdout: \(lines)" }
        let (status, stdout, stderr) = waitForExit()
        return "exit \(status); stdout: \(stdout); stderr: \(stderr)"
    }
}

extension StateReader {
    /// The registered entry's ID, for tests.
    var registrationID: String? {
        if case .registered(let id, _) = registration { return id }
        return nil
    }
}
