import Foundation
import Testing

@testable import StateCoordinator

/// The sidecar as an operator runs it: a real `state-sidecar` process on a loopback port, probed
/// by a Python HTTP client (the metrics parsed by `prometheus_client`, the reference parser).
extension ProcessTests {
    @Suite("state-sidecar")
    struct SidecarTests {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }

        static let binary = HelperProcess.url.deletingLastPathComponent().appendingPathComponent("state-sidecar")
        static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/sidecar_client.py")

        /// A running sidecar and its base URL (it listens on a port the kernel chose).
        struct Sidecar {
            let process: RunningHelper
            let base: String
        }

        /// - Parameter runAs: a command the sidecar runs under (`setpriv …`), or none.
        func start(_ extra: [String] = [], runAs prefix: [String] = []) throws -> Sidecar {
            // The test stores are 0640: on loopback without a token the sidecar must be told to serve them.
            let open = extra.contains("--token-file") ? [] : ["--loopback-without-token"]
            let arguments = ["--dir", dir.path, "--listen", "127.0.0.1:0"] + open + extra
            let process = try prefix.isEmpty
                ? RunningHelper(arguments, executable: Self.binary)
                : RunningHelper(prefix + arguments, executable: URL(fileURLWithPath: "/usr/bin/env"))
            var port: String?
            let seen = LockHolderWait.until(timeout: .seconds(60)) {
                port = String(decoding: process.collectedError(), as: UTF8.self).split(separator: "\n")
                    .first { $0.hasPrefix("state-sidecar: listening on 127.0.0.1:") }.map { String($0.split(separator: ":").last!) }
                return port != nil
            }
            #expect(seen, "the sidecar did not start: \(String(decoding: process.collectedError(), as: UTF8.self))")
            return Sidecar(process: process, base: "http://127.0.0.1:\(port ?? "0")")
        }

        func client(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let python = try RunningHelper(["python3", Self.client.path] + arguments, executable: URL(fileURLWithPath: "/usr/bin/env"))
            python.closeInput()
            return python.waitForExit()
        }

        /// `GET`: the HTTP status and the body.
        func get(_ url: String, _ headers: [String] = []) throws -> (code: Int, body: String) {
            let (_, stdout, stderr) = try client(["get", url] + headers)
            let lines = stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? String(lines[1]) : stderr)
        }

        /// Checks the client's "v N" and "gap A B" lines: in order from version 0, each version
        /// delivered once or inside one gap, never a regression. Returns the version after the
        /// last one, and the gaps.
        static func checkedSequence(_ output: String) -> (next: UInt64, gaps: [(UInt64, UInt64)]) {
            var next: UInt64 = 0
            var gaps: [(UInt64, UInt64)] = []
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: " ").compactMap { UInt64($0) }
                if line.hasPrefix("v "), let version = fields.first {
                    #expect(version == next, "expected \(next), got \(version)")
                    next = version + 1
                } else if line.hasPrefix("gap "), fields.count == 2 {
                    #expect(fields[0] == next && fields[1] >= fields[0], "gap \(fields) after \(next)")
                    gaps.append((fields[0], fields[1]))
                    next = fields[1] + 1
                }
            }
            return (next, gaps)
        }

        @Test func metricsParseWithTheReferenceParserAndFollowCommits() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false], settings: StoreSettings(keepHistory: 3))
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            #expect(try statectl("set", "/halt", "true").status == 0)
            #expect(LockHolderWait.until { (try? get(sidecar.base + "/state").body.contains("true")) == true })
            let (status, samples, stderr) = try client(["metrics", sidecar.base + "/metrics"])
            #expect(status == 0, "prometheus_client refused the text: \(stderr)")
            for expected in [
                "statecoord_version{store=state} 1.0", "statecoord_verified{store=state} 1.0", "statecoord_lock_held{store=state} 0.0",
                "statecoord_history_versions{store=state} 1.0", "statecoord_watch_inotify{store=state} 1.0",
                "statecoord_build_info{version=", "statecoord_propagation_since_commit_stamp_seconds_bucket{le=0.0001,store=state}",
                "statecoord_commits_observed_total{store=state}", "statecoord_readers_live{store=state} 0.0",
            ] {
                #expect(samples.contains(expected), "missing \(expected) in:\n\(samples)")
            }
            #expect(!samples.contains("pid="), "no pid as a label")
        }

        @Test func readyzFailsWhileTheStateIsDamagedAndLivezStaysUp() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            #expect(try get(sidecar.base + "/readyz").code == 200)
            // An editor writes the state file in place: it no longer verifies.
            try "{\"halt\": true}\n".write(toFile: dir.file("state.json"), atomically: false, encoding: .utf8)
            #expect(LockHolderWait.until { (try? get(sidecar.base + "/readyz").code) == 503 })
            let verbose = try get(sidecar.base + "/readyz?verbose")
            #expect(verbose.body.contains("[-]state/verified failed:") && verbose.body.contains("[+]state/watch ok"), "\(verbose.body)")
            #expect(try get(sidecar.base + "/livez").code == 200)
            // Recovered by a good commit (a damaged store is re-created: a writer never overwrites what it cannot verify).
            #expect(try statectl("init", "--force").status == 0)
            #expect(LockHolderWait.until { (try? get(sidecar.base + "/readyz").code) == 200 })
        }

        @Test func eventsDeliverABurstInOrderAndResumeExactlyAfterARestart() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["counter": 0], settings: StoreSettings(keepHistory: 50))
            var sidecar = try start()
            let burst = try RunningHelper(["python3", Self.client.path, "events", sidecar.base + "/events", "1000"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(burst.waitForLine { $0 == "v 0" })
            #expect(try HelperProcess.run(["incr", dir.path, "1000"]).status == 0)
            let (status, stdout, _) = burst.waitForExit()
            #expect(status == 0)
            #expect(Self.checkedSequence(stdout).next == 1001)
            // Killed; 7 commits meanwhile; restarted: a client resuming from 1000 gets exactly 1001…1007.
            sidecar.process.signal(SIGKILL)
            _ = sidecar.process.waitForExit()
            #expect(try HelperProcess.run(["incr", dir.path, "7"]).status == 0)
            sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            let resumed = try client(["events", sidecar.base + "/events", "1007", "1000"])
            #expect(resumed.stdout == (1001...1007).map { "v \($0)\n" }.joined(), "\(resumed)")
            #expect(try get(sidecar.base + "/events", ["Last-Event-ID=soon"]).code == 400)
        }

        @Test func aSlowClientGetsTheNewestVersionsAndAGapNotABacklog() throws {
            // 64 KiB versions; the client's receive buffer is 4 KiB and it reads nothing meanwhile.
            let blob = JSONValue.string(String(repeating: "x", count: 65_536))
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["counter": 0, "blob": blob])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            let slow = try RunningHelper(["python3", Self.client.path, "slow", sidecar.base + "/events", "300"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { slow.signal(SIGKILL) }
            #expect(slow.waitForLine { $0 == "connected" })
            #expect(LockHolderWait.until { (try? client(["metrics", sidecar.base + "/metrics"]).stdout.contains("statecoord_sidecar_event_streams{store=state} 1.0")) == true })
            #expect(try HelperProcess.run(["incr", dir.path, "300"]).status == 0)
            #expect(LockHolderWait.until { (try? client(["metrics", sidecar.base + "/metrics"]).stdout.contains("statecoord_version{store=state} 300.0")) == true })
            // Versions written while the socket still took them, one gap, then the newest ones.
            slow.closeInput()
            let (status, stdout, stderr) = slow.waitForExit()
            #expect(status == 0, "\(stderr)")
            let (next, gaps) = Self.checkedSequence(stdout)
            #expect(next == 301, "the newest version reached the client")
            #expect(!gaps.isEmpty, "300 × 64 KiB cannot all have waited for a client that read nothing:\n\(stdout)")
            let delivered = 301 - gaps.reduce(0) { $0 + Int($1.1 - $1.0 + 1) }
            #expect(delivered < 200, "\(delivered) versions delivered: the stream buffered instead of skipping")
            let metrics = try client(["metrics", sidecar.base + "/metrics"]).stdout
            #expect(metrics.contains("statecoord_sidecar_stream_skipped_versions_total{store=state}") && !metrics.contains("statecoord_sidecar_stream_skipped_versions_total{store=state} 0.0"), "\(metrics)")
        }

        @Test func theStreamLimitHoldsAndEveryStreamGivesItsPlaceBack() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["counter": 0])
            let sidecar = try start(["--max-streams", "2"])
            defer { sidecar.process.signal(SIGKILL) }
            func slots(_ count: Int) -> Bool {
                LockHolderWait.until { (try? client(["metrics", sidecar.base + "/metrics"]).stdout.contains("statecoord_sidecar_stream_slots_used{} \(count).0")) == true }
            }
            // Clients that leave at once, before or while their response starts, take no place for good.
            #expect(try client(["reset-connections", sidecar.base + "/events", "40"]).stdout == "done\n")
            #expect(slots(0))
            let first = try RunningHelper(["python3", Self.client.path, "events", sidecar.base + "/events", "1000000"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { first.signal(SIGKILL) }
            let second = try RunningHelper(["python3", Self.client.path, "events", sidecar.base + "/events", "1000000"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { second.signal(SIGKILL) }
            #expect(first.waitForLine { $0 == "v 0" } && second.waitForLine { $0 == "v 0" })
            #expect(slots(2))
            let refused = try get(sidecar.base + "/events")
            #expect(refused.code == 503 && refused.body.contains("too many event streams"), "\(refused)")
            // A client that went away (its connection closed by the kernel) gives its place back at
            // once, with nothing written to its stream meanwhile.
            first.signal(SIGKILL)
            _ = first.waitForExit()
            #expect(slots(1))
            #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0)
            let third = try RunningHelper(["python3", Self.client.path, "events", sidecar.base + "/events", "1"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(third.waitForExit(timeout: .seconds(30)).stdout == "v 1\n")
        }

        @Test func aClientOfAStoreSinceReCreatedGetsAReset() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["counter": 0])
            #expect(try HelperProcess.run(["incr", dir.path, "2"]).status == 0)
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            // Its last id, 5000, is beyond this store's version 2: not this store's history.
            let resumed = try client(["events", sidecar.base + "/events", "2", "5000"])
            #expect(resumed.stdout == "reset\nv 2\n", "\(resumed)")
            // A stream open while the store is re-created gets a reset and the new store's versions.
            let open = try RunningHelper(["python3", Self.client.path, "events", sidecar.base + "/events", "r1"], executable: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(open.waitForLine { $0 == "v 2" })
            try FileManager.default.removeItem(atPath: dir.path)
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: false)
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["counter": 0])
            #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0)
            let (status, stdout, _, timedOut) = open.waitForExit(timeout: .seconds(30))
            #expect(status == 0 && !timedOut)
            #expect(stdout.hasPrefix("v 2\nreset\n") && stdout.hasSuffix("v 1\n"), "\(stdout)")
        }

        @Test func aUserWhoMayOnlyReadRunsItAndItLeavesNoTrace() throws {
            try #require(getuid() == 0, "switching to nobody needs root (CI runs as root)")
            #expect(try statectl("init", "--mode", "0644", "--keep-history", "3").status == 0)
            #expect(chmod(dir.path, 0o755) == 0)
            // The binary copied where nobody may run it (the build directory may be root's alone).
            let bin = TemporaryDirectory()
            #expect(chmod(bin.path, 0o755) == 0)
            try FileManager.default.copyItem(atPath: Self.binary.path, toPath: bin.file("state-sidecar"))
            let before = try dir.names()
            let sidecar = try start(runAs: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.file("state-sidecar")])
            defer { sidecar.process.signal(SIGKILL) }
            #expect(try statectl("set", "/halt", "true").status == 0)
            #expect(LockHolderWait.until { (try? get(sidecar.base + "/state").body.contains("true")) == true })
            let ready = try get(sidecar.base + "/readyz?verbose")
            #expect(ready.code == 200, "\(ready.body)")
            let metrics = try client(["metrics", sidecar.base + "/metrics"]).stdout
            #expect(metrics.contains("statecoord_version{store=state} 1.0") && metrics.contains("statecoord_lock_held{store=state} 0.0"), "\(metrics)")
            #expect(try dir.names() == before, "the sidecar created nothing in the store directory")
            let owners = try dir.names().map { try FileManager.default.attributesOfItem(atPath: dir.file($0))[.ownerAccountID] as? NSNumber }
            #expect(owners.allSatisfy { $0?.intValue == 0 }, "every file is still root's")
        }

        @Test func stateHasTheVersionAsETagAndAnswers304() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            #expect(try get(sidecar.base + "/state", ["If-None-Match=\"0\""]).code == 304)
            #expect(try get(sidecar.base + "/state", ["If-None-Match=\"7\""]).code == 200)
            #expect(try get(sidecar.base + "/nowhere").code == 404)
            let status = try get(sidecar.base + "/status")
            #expect(status.code == 200 && status.body.contains("\"version\" : 0"), "\(status)")
        }

        @Test func promtoolFindsNothingToLint() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            let lint = try statectl.shell("python3 \(Self.client.path) get \(sidecar.base)/metrics | tail -n +2 | promtool check metrics")
            #expect(lint.status == 0 && lint.stdout.isEmpty && lint.stderr.isEmpty, "\(lint)")
        }

        @Test func aRealPrometheusScrapesTheVersionStatectlReports() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            let target = sidecar.base.replacingOccurrences(of: "http://", with: "")
            try """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                scrape_configs: [{job_name: sidecar, static_configs: [{targets: ["\(target)"]}]}]
                """.write(toFile: dir.file("prometheus.yml"), atomically: false, encoding: .utf8)
            let port = 19_090 + Int(getpid() % 500)
            let prometheus = try RunningHelper(
                ["--config.file=\(dir.file("prometheus.yml"))", "--storage.tsdb.path=\(dir.file("tsdb"))",
                 "--web.listen-address=127.0.0.1:\(port)"],
                executable: URL(fileURLWithPath: "/usr/bin/prometheus"))
            defer { prometheus.signal(SIGTERM); _ = prometheus.waitForExit() }
            #expect(try statectl("set", "/halt", "true").status == 0)
            let meta = try statectl("get", "--meta")
            let version = try #require(try JSONValue(parsing: Array(meta.stdout.utf8))["version"]?.intValue)
            let query = "http://127.0.0.1:\(port)/api/v1/query?query=statecoord_version"
            var answer = ""
            #expect(LockHolderWait.until(timeout: .seconds(60)) {
                answer = (try? get(query)).map { "\($0.code) \($0.body)" } ?? "no answer"
                return answer.contains("\"\(version)\"]")
            }, "Prometheus says: \(answer); its log: \(String(decoding: prometheus.errorSoFar, as: UTF8.self).suffix(1500))")
        }

        @Test func theLivePageShowsAHaltWithinOneSecond() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false, "risk": ["maxPosition": 100]])
            let sidecar = try start()
            defer { sidecar.process.signal(SIGKILL) }
            let screenshot = dir.file("live-page.png")
            let page = try RunningHelper(["python3", Self.client.path, "page", sidecar.base + "/", screenshot], executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { page.signal(SIGKILL) }
            #expect(page.waitForLine(timeout: .seconds(60)) { $0 == "halt running version 0" }, "\(page.lines) \(String(decoding: page.errorSoFar, as: UTF8.self))")
            #expect(try statectl("set", "/halt", "true").status == 0)
            let committed = ContinuousClock.now
            #expect(page.waitForLine(timeout: .seconds(5)) { $0 == "halt HALTED version 1" }, "\(page.lines)")
            #expect(ContinuousClock.now - committed < .seconds(1), "shown \(ContinuousClock.now - committed) after the commit")
            page.closeInput()
            #expect(page.waitForLine { $0 == "screenshot" })
            // Let it quit Chromium: a browser left behind holds locks and memory for the rest of the run.
            let quit = page.waitForExit(timeout: .seconds(30))
            #expect(quit.status == 0 && !quit.timedOut, "\(quit.stderr.suffix(500))")
            // Kept where an operator can look at it.
            let kept = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("statecoordinator-live-page.png")
            try? FileManager.default.removeItem(at: kept)
            try FileManager.default.copyItem(at: URL(fileURLWithPath: screenshot), to: kept)
        }

        @Test func offLoopbackNeedsATokenAndEveryPathButLivezChecksIt() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let refused = try RunningHelper(["--dir", dir.path, "--listen", "0.0.0.0:0"], executable: Self.binary).waitForExit()
            #expect(refused.status != 0 && refused.stderr.contains("needs --token-file"), "\(refused)")
            let token = "s3cret-token-0123456789"
            try token.write(toFile: dir.file("token"), atomically: false, encoding: .utf8)
            let sidecar = try start(["--token-file", dir.file("token")])
            defer { sidecar.process.signal(SIGKILL) }
            #expect(try get(sidecar.base + "/state").code == 401)
            #expect(try get(sidecar.base + "/metrics", ["Authorization=Bearer wrong"]).code == 401)
            #expect(try get(sidecar.base + "/state", ["Authorization=Bearer " + token]).code == 200)
            #expect(try get(sidecar.base + "/livez").code == 200)
            // A person's browser: Basic, any user name, the token as the password.
            let basic = "Basic " + Data("operator:\(token)".utf8).base64EncodedString()
            #expect(try get(sidecar.base + "/state", ["Authorization=" + basic]).code == 200)
            let wrongBasic = "Basic " + Data("operator:\(token)x".utf8).base64EncodedString()
            #expect(try get(sidecar.base + "/state", ["Authorization=" + wrongBasic]).code == 401)
            #expect(try get(sidecar.base + "/state", ["Authorization=Basic !!!"]).code == 401)
        }

        @Test func theLivePageWorksBehindTheToken() throws {
            _ = try StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
            let token = "page-token-0123456789abcdef"
            try token.write(toFile: dir.file("token"), atomically: false, encoding: .utf8)
            let sidecar = try start(["--token-file", dir.file("token")])
            defer { sidecar.process.signal(SIGKILL) }
            let page = try RunningHelper(
                ["python3", Self.client.path, "page", sidecar.base + "/", dir.file("page.png"), token], executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { page.signal(SIGKILL) }
            #expect(page.waitForLine(timeout: .seconds(60)) { $0 == "halt running version 0" }, "\(page.lines) \(String(decoding: page.errorSoFar, as: UTF8.self))")
            #expect(try statectl("set", "/halt", "true").status == 0)
            #expect(page.waitForLine(timeout: .seconds(5)) { $0 == "halt HALTED version 1" }, "the page's event stream carried the token: \(page.lines)")
            page.closeInput()
            #expect(page.waitForLine { $0 == "screenshot" })
            // Let it quit Chromium: a browser left behind holds locks and memory for the rest of the run.
            let quit = page.waitForExit(timeout: .seconds(30))
            #expect(quit.status == 0 && !quit.timedOut, "\(quit.stderr.suffix(500))")
        }
    }
}

extension RunningHelper {
    /// What the process wrote to stderr so far, while it runs.
    func collectedError() -> Data { errorSoFar }
}
