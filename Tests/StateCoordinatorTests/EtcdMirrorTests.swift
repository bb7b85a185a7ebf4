import Foundation
import Testing

@testable import StateCoordinator

/// `statectl mirror`: a store on etcd followed into a local file store with the same version
/// numbers, as real processes (the mirror, an inotify watcher, writers on etcd) on a real etcd.
@Suite("A mirror of a store on etcd", .serialized, .timeLimit(.minutes(5)))
struct EtcdMirrorTests {
    @Test func aMirrorFollowsAThousandCommitsAndCatchesUpAfterBeingKilled() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        _ = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0], settings: StoreSettings(keepHistory: 1000))
        let directory = TemporaryDirectory()
        let mirrorArguments = ["mirror", "--etcd", cluster.endpoints, "--dir", directory.path]
        var mirror = try RunningHelper(mirrorArguments, executable: CLI.url)
        #expect(mirror.waitForLine { $0.contains(#""event":"started""#) && $0.contains(#""created":true"#) }, "\(mirror.errorSoFar)")
        // A local reader on the mirrored directory (inotify), asking for every version.
        let watcher = try RunningHelper(["watch", "--dir", directory.path, "--count", "1001", "--timeout", "240"], executable: CLI.url)
        #expect(watcher.waitForLine { Self.version(in: $0) == 0 })
        let writers = try (0..<2).map { try RunningHelper(["etcd-incr", cluster.endpoints, "500", "writer-\($0)"]) }
        // Killed mid-run (it may be inside a local commit), then started again: it catches up.
        #expect(mirror.waitForLine(timeout: .seconds(120)) { Self.version(in: $0).map { $0 >= 300 } ?? false })
        mirror.signal(SIGKILL)
        let killed = mirror.waitForExit()
        var acknowledged: [UInt64] = []
        for writer in writers {
            let (status, stdout, stderr) = writer.waitForExit()
            #expect(status == 0, "\(stderr)")
            acknowledged += stdout.split(separator: "\n").compactMap { UInt64($0.split(separator: " ").first ?? "") }
        }
        #expect(acknowledged.sorted() == Array(1...1000))
        // Restarted once all 1,000 are on etcd: what it missed comes from etcd's kept versions.
        mirror = try RunningHelper(mirrorArguments + ["--until", "1000"], executable: CLI.url)
        let restarted = mirror.waitForExit(timeout: .seconds(120))
        #expect(restarted.status == 0 && !restarted.timedOut, "\(restarted.stderr)")
        let started = try #require(restarted.stdout.split(separator: "\n").first.map(String.init))
        #expect(started.contains(#""created":false"#), "\(started)")
        // Both runs together mirrored each version once, and no version was missing.
        let mirrored = (killed.stdout + restarted.stdout).split(separator: "\n").compactMap { line in
            line.contains(#""event":"mirrored""#) ? Self.version(in: String(line)) : nil
        }
        // A SIGKILL between a local commit and its event line loses the line, not the version:
        // only the version after the killed run's last event may be missing here, and the local
        // reader below must still have seen it.
        let killedLast = killed.stdout.split(separator: "\n").compactMap { line in
            line.contains(#""event":"mirrored""#) ? Self.version(in: String(line)) : nil
        }.last ?? 0
        let missing = Set(1...1000).subtracting(mirrored)
        #expect(missing.isEmpty || missing == [killedLast + 1], "\(missing.sorted().prefix(10)) not mirrored (killed after \(killedLast))")
        let caughtUp = restarted.stdout.split(separator: "\n").filter { $0.contains(#""event":"mirrored""#) }.count
        #expect(caughtUp >= 1, "the restarted mirror had nothing to catch up")
        #expect(!(killed.stdout + restarted.stdout).contains(#""event":"gap""#))
        // The local reader saw every version, in order, each with the state etcd committed as it.
        let watched = watcher.waitForExit(timeout: .seconds(120))
        #expect(watched.status == 0 && !watched.timedOut, "\(watched.stderr)")
        var seen: [UInt64] = []
        for line in watched.stdout.split(separator: "\n") {
            let record = try JSONValue(parsing: Array(line.utf8))
            let version = try #require(record["version"]?.intValue)
            #expect(record["state"]?["counter"]?.intValue == version, "\(line)")
            seen.append(UInt64(version))
        }
        #expect(seen == Array(0...1000))
        let local = try ReadOnlyStateStore<JSONValue>(directory: directory.path).read()
        let source = try ReadOnlyStateStore<JSONValue>(etcd: etcd).read()
        #expect(local.version == 1000 && local.checksum == source.checksum)
        #expect(try ReadOnlyStateStore<JSONValue>.verify(directory: directory.path).isHealthy)
        // The mirror never wrote to etcd: every version there is a writer's.
        #expect(source.writer.label.hasPrefix("writer-"), "\(source.writer)")
    }

    @Test func twoMirrorsNeverBothWriteAndALocalWriterStopsThem() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0], settings: StoreSettings(keepHistory: 100))
        try store.update { try $0.set(.int(1), forKey: "counter") }
        let directory = TemporaryDirectory()
        let arguments = ["mirror", "--etcd", cluster.endpoints, "--dir", directory.path]
        let mirrors = try (0..<2).map { _ in try RunningHelper(arguments, executable: CLI.url) }
        for mirror in mirrors { #expect(mirror.waitForLine { $0.contains(#""event":"started""#) }, "\(mirror.errorSoFar)") }
        for value in Int64(2)...40 { try store.update { try $0.set(.int(value), forKey: "counter") } }
        for mirror in mirrors {
            #expect(mirror.waitForLine { Self.version(in: $0) == 40 }, "\(String(decoding: mirror.errorSoFar, as: UTF8.self))")
        }
        // Each version was written by exactly one of them; the other found it there.
        let writtenBy = mirrors.map { mirror in
            mirror.lines.compactMap { $0.contains(#""event":"mirrored""#) ? Self.version(in: $0) : nil }
        }
        #expect(Set(writtenBy[0]).isDisjoint(with: writtenBy[1]))
        #expect(Set(writtenBy[0] + writtenBy[1]) == Set(2...40), "\(writtenBy)")
        #expect(mirrors.map(\.lines).joined().filter { $0.contains(#""created":true"#) }.count == 1)
        let cli = CLI(directory: directory.path)
        #expect(try cli("verify").status == 0)

        // A local writer makes a version etcd does not have: both mirrors stop on the next one
        // (exit 3, naming what happened); the local version is kept, nothing is overwritten.
        #expect(try cli("set", "/counter", "-1").stdout == "41\n")
        try store.update { try $0.set(.int(41), forKey: "counter") }
        for mirror in mirrors {
            let (status, _, stderr, _) = mirror.waitForExit(timeout: .seconds(60))
            #expect(status == 3 && stderr.contains("something other than a mirror wrote it"), "\(stderr)")
        }
        #expect(try ReadOnlyStateStore<JSONValue>(directory: directory.path).read().state["counter"]?.intValue == -1)
        // Started again, it refuses at once.
        let again = try CLI(directory: directory.path).run(arguments)
        #expect(again.status == 3 && again.oneDiagnosticLine, "\(again)")
    }

    @Test func versionsEtcdNoLongerKeepsAreReportedAsAGapAndTheLocalStoreJumps() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0], settings: StoreSettings(keepHistory: 5))
        let directory = TemporaryDirectory()
        let cli = CLI(directory: directory.path)
        let arguments = ["mirror", "--etcd", cluster.endpoints, "--dir", directory.path]
        #expect(try cli.run(arguments + ["--until", "0"]).status == 0)
        for value in Int64(1)...20 { try store.update { try $0.set(.int(value), forKey: "counter") } }
        // Version 20 is current, 15-19 are kept: 1-14 are gone.
        let caughtUp = try cli.run(arguments + ["--until", "20"])
        #expect(caughtUp.status == 0, "\(caughtUp)")
        let lines = caughtUp.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"{"event":"gap","from":1,"to":14}"#), "\(lines)")
        #expect(lines.compactMap { $0.contains("mirrored") ? Self.version(in: $0) : nil } == Array(15...20))
        let history = try ReadOnlyStateStore<JSONValue>(directory: directory.path).historyListing().entries.map(\.version)
        #expect(history.sorted() == [15, 16, 17, 18, 19], "\(history)")
        #expect(try ReadOnlyStateStore<JSONValue>.verify(directory: directory.path).isHealthy)
    }

    @Test func aLocalWriteMadeWhileTheMirrorWasStoppedStopsItWhenItStartsAgain() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0], settings: StoreSettings(keepHistory: 10))
        let directory = TemporaryDirectory()
        let cli = CLI(directory: directory.path)
        let arguments = ["mirror", "--etcd", cluster.endpoints, "--dir", directory.path]
        #expect(try cli.run(arguments + ["--until", "0"]).status == 0)
        // While it is stopped: a local writer makes version 1, etcd goes on to 3.
        #expect(try cli("set", "/counter", "-1").stdout == "1\n")
        for value in Int64(1)...3 { try store.update { try $0.set(.int(value), forKey: "counter") } }
        let restarted = try cli.run(arguments + ["--until", "3"])
        #expect(restarted.status == 3 && restarted.stderr.contains("that is not the source's"), "\(restarted)")
        #expect(try ReadOnlyStateStore<JSONValue>(directory: directory.path).read().state["counter"]?.intValue == -1)
    }

    @Test func localVersionsAboveTheSourcesNewestStopTheMirror() throws {
        let cluster = try EtcdCluster()
        let etcd = try cluster.configuration()
        let store = try StateStore<JSONValue>.create(etcd: etcd, initial: ["counter": 0], settings: StoreSettings(keepHistory: 10))
        let directory = TemporaryDirectory()
        let cli = CLI(directory: directory.path)
        let mirror = try RunningHelper(["mirror", "--etcd", cluster.endpoints, "--dir", directory.path], executable: CLI.url)
        #expect(mirror.waitForLine { $0.contains(#""event":"started""#) })
        // A local writer makes versions 1 and 2; etcd then commits its version 1.
        #expect(try cli("set", "/counter", "-1").stdout == "1\n")
        #expect(try cli("set", "/counter", "-2").stdout == "2\n")
        try store.update { try $0.set(.int(1), forKey: "counter") }
        let (status, stdout, stderr, timedOut) = mirror.waitForExit(timeout: .seconds(60))
        #expect(status == 3 && !timedOut && stderr.contains("ahead of the source's 1"), "\(stdout)\(stderr)")
        #expect(!stdout.contains("committedElsewhere"), "\(stdout)")
        #expect(try ReadOnlyStateStore<JSONValue>(directory: directory.path).read().state["counter"]?.intValue == -2)
    }

    @Test func mirrorNeedsBothItsSourceAndItsDirectory() throws {
        let directory = TemporaryDirectory()
        let cli = CLI(directory: directory.path)
        let noEtcd = try cli.run(["mirror", "--dir", directory.path])
        #expect(noEtcd.status == 2 && noEtcd.stderr.contains("--etcd"), "\(noEtcd)")
        let noDirectory = try cli.run(["mirror", "--etcd", "http://127.0.0.1:1"], environment: ["STATECTL_DIR": ""])
        #expect(noDirectory.status == 2 && noDirectory.stderr.contains("--dir"), "\(noDirectory)")
        // Unreachable: the etcd error, naming the endpoint, within the timeout.
        let unreachable = try cli.run(["mirror", "--etcd", "http://127.0.0.1:1", "--etcd-timeout", "1", "--dir", directory.path])
        #expect(unreachable.status == 12 && unreachable.stderr.contains("127.0.0.1:1"), "\(unreachable)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    /// The `"version":N` of a JSON line, if any.
    static func version(in line: String) -> UInt64? {
        guard let record = try? JSONValue(parsing: Array(line.utf8)), let version = record["version"]?.intValue else { return nil }
        return UInt64(version)
    }
}
