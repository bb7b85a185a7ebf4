import Foundation
import Testing

@testable import StateCoordinator

/// Issue 19, items 1, 2 and 5: the reader registry is one directory every user may write
/// (`1777`, as the docs set it up). The attacks run as uid 4243 (``SecondUser``) against a bot run
/// as uid 4244 and readers and operators run as root.
extension ProcessTests {
    @Suite("Registry entries are bound to their owner")
    struct RegistryOwnerTests {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }
        static let botUser = "4244"
        var registry: String { dir.file("state.readers") }

        /// A store everyone may read, with the shared registry the docs describe.
        func makeSharedStore() throws {
            #expect(try statectl("init", "--mode", "0644").status == 0)
            #expect(chmod(dir.path, 0o755) == 0)
            #expect(mkdir(registry, 0o777) == 0 && chmod(registry, 0o1777) == 0)
        }

        var storeID: String { (try? ReadOnlyStateStore<JSONValue>(directory: dir.path).read().storeID) ?? "" }

        /// The bot: `statectl watch --as bot-eu-1 --ack` as uid 4244, once registered.
        func startBot() throws -> RunningHelper {
            let bot = try RunningHelper(
                ["setpriv", "--reuid=\(Self.botUser)", "--regid=\(Self.botUser)", "--clear-groups", CLI.url.path, "--dir", dir.path,
                 "watch", "--as", "bot-eu-1", "--ack"],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            #expect(bot.waitForLine(timeout: .seconds(30)) { $0.contains("\"version\"") })
            #expect(LockHolderWait.until { botEntry() != nil }, "the bot registered")
            return bot
        }

        /// The bot's entry ID (its lock file owned by uid 4244).
        func botEntry() -> String? {
            ((try? dir.names(in: "state.readers")) ?? []).first { name in
                var status = stat()
                return name.hasSuffix(".lock") && stat(registry + "/" + name, &status) == 0 && status.st_uid == uid_t(Self.botUser)!
            }.map { String($0.dropLast(5)) }
        }

        /// A record claiming that bot-eu-1 applied version 99 of this store.
        var forgedRecord: String {
            #"{"format":1,"label":"bot-eu-1","pid":4244,"host":"h","registeredAt":1,"updatedAt":1,"storeID":"\#(storeID)","loadedVersion":99,"appliedVersion":99}"#
        }

        /// Runs `script` with `sh` in the registry as the attacker; a script ending in `exec sleep`
        /// keeps running (the returned helper), after printing "planted".
        func asAttacker(_ script: String) throws -> RunningHelper {
            try RunningHelper(
                SecondUser.setpriv + ["sh", "-c", "cd \"$0\" && " + script, registry],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
        }

        /// The kernel's default (`fs.protected_hardlinks = 0`) for the duration of `body`: lets a
        /// user link another user's file, as the probe did.
        func withUnprotectedHardLinks(_ body: () throws -> Void) throws {
            let path = "/proc/sys/fs/protected_hardlinks"
            let before = try String(contentsOfFile: path, encoding: .utf8)
            try "0\n".write(toFile: path, atomically: false, encoding: .utf8)
            defer { try? before.write(toFile: path, atomically: false, encoding: .utf8) }
            try body()
        }
    }
}

/// Item 1: a live entry of the attacker's own (its lock held by its own process) says bot-eu-1
/// applied version 99. Before the fix, `--await-ack bot-eu-1` reported it applied with no bot
/// running at all. Now every entry shows its owner, `label@user` waits for that user's reader
/// only, and a store naming its reader users never counts anyone else's.
extension ProcessTests.RegistryOwnerTests {
    @Test func aLabelAnyUserRegistersIsNotTheBotsAcknowledgement() throws {
        try makeSharedStore()
        let fake = try asAttacker(
            "printf %s '\(forgedRecord)' > 4243-00000000000000aa.json && exec flock -s 4243-00000000000000aa.lock -c 'echo planted; exec sleep 60'")
        defer { fake.signal(SIGKILL) }
        #expect(fake.waitForLine { $0 == "planted" })

        let qualified = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "1")
        #expect(qualified.status == 10, "no reader of uid 4244 is live: the halt is not confirmed: \(qualified)")
        #expect(qualified.stderr.contains("no live reader is registered as 'bot-eu-1@4244'"), "\(qualified.stderr)")
        #expect(qualified.stderr.contains("bot-eu-1@4243") && qualified.stderr.contains("not waited for"), "the impostor is named: \(qualified.stderr)")

        let listed = try statectl("readers", "--json")
        guard case .array(let readers) = try JSONValue(parsing: Array(listed.stdout.utf8)) else { Issue.record("\(listed)"); return }
        #expect(readers.count == 1 && readers[0]["owner"] == 4243 && readers[0]["label"] == "bot-eu-1", "its owner is shown: \(listed)")
        #expect(try statectl("readers").stdout.contains("bot-eu-1  4243"), "in the table too")

        let bot = try startBot()
        defer { bot.signal(SIGKILL) }
        let confirmed = try statectl("set", "/halt", "false", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "10", "--json")
        #expect(confirmed.status == 0, "the bot of uid 4244 applied it: \(confirmed)")
        let report = try JSONValue(parsing: Array(confirmed.stdout.utf8))["acknowledgements"]
        func firstOwner(_ member: String) -> JSONValue? {
            guard case .array(let readers)? = report?[member], let first = readers.first else { return nil }
            return first["owner"]
        }
        #expect(firstOwner("applied") == 4244 && firstOwner("ignored") == 4243, "\(confirmed.stdout)")

        // The store names its reader users: a label alone, and all, count the bot's only.
        #expect(try statectl("readers", "--set-users", Self.botUser).status == 0)
        bot.stop()
        defer { bot.signal(SIGCONT) }
        for selection in ["bot-eu-1", "all"] {
            let halt = try statectl("set", "/halt", "true", "--await-ack", selection, "--ack-timeout", "1")
            #expect(halt.status == 10 && halt.stderr.contains("bot-eu-1@4244 (pid \(bot.pid)") && halt.stderr.contains("has not applied"),
                "the stopped bot lags; the impostor's 99 does not count: \(halt)")
        }
        let table = try statectl("readers")
        #expect(!table.stdout.contains("4243") && table.stderr.contains("1 live reader is not counted") && table.stderr.contains("bot-eu-1@4243"), "\(table)")
        let status = try statectl("status", "--json")
        #expect(try JSONValue(parsing: Array(status.stdout.utf8))["readerUsers"] == [4244], "\(status.stdout)")
    }
}

/// Item 1, the binding: the attacker links the bot's own files under names of its own (the
/// bot's lock file, which the bot keeps locked, with a forged record; the bot's record with a
/// lock file of the attacker's). Before the fix either entry passed for a live bot-eu-1 that
/// applied 99. Now an entry whose files belong to two users, or whose record names another
/// entry, is invalid: listed as such, never counted.
extension ProcessTests.RegistryOwnerTests {
    @Test func filesOfTwoUsersOrAnotherEntrysRecordMakeNoReader() throws {
        try makeSharedStore()
        let bot = try startBot()
        defer { bot.signal(SIGKILL) }
        guard let id = botEntry() else { Issue.record("no bot entry"); return }
        var plants: [RunningHelper] = []
        defer { plants.forEach { $0.signal(SIGKILL) } }
        try withUnprotectedHardLinks {
            let linkedLock = try asAttacker(
                "ln \(id).lock 4243-00000000000000b1.lock && printf %s '\(forgedRecord)' > 4243-00000000000000b1.json && echo planted")
            #expect(linkedLock.waitForLine { $0 == "planted" }, "the attacker linked the bot's lock file")
            plants.append(linkedLock)
            let linkedRecord = try asAttacker(
                "ln \(id).json 4243-00000000000000b2.json && ln \(id).lock 4243-00000000000000b3.lock && ln \(id).json 4243-00000000000000b3.json"
                    + " && exec flock -s 4243-00000000000000b2.lock -c 'echo planted; exec sleep 60'")
            #expect(linkedRecord.waitForLine { $0 == "planted" }, "and the bot's record")
            plants.append(linkedRecord)
        }
        bot.stop()
        defer { bot.signal(SIGCONT) }
        let halt = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "1")
        #expect(halt.status == 10 && halt.stderr.contains("has not applied"), "only the real, stopped bot is waited for: \(halt)")
        let all = try statectl("readers", "--all", "--json")
        let listing = try JSONValue(parsing: Array(all.stdout.utf8))
        guard case .array(let readers)? = listing["readers"], case .array(let invalid)? = listing["invalid"] else { Issue.record("\(all)"); return }
        #expect(readers.count == 1 && readers[0]["id"] == .string(id), "the bot alone: \(all.stdout)")
        let invalidIDs = Set(invalid.compactMap { entry -> String? in if case .string(let id)? = entry["id"] { id } else { nil } })
        #expect(invalidIDs.isSuperset(of: ["4243-00000000000000b1", "4243-00000000000000b2", "4243-00000000000000b3"]), "\(all.stdout)")
        #expect(all.stdout.contains("its record belongs to uid 4243, its lock file to uid 4244"), "\(all.stdout)")
        #expect(all.stdout.contains("its record is another entry's"), "\(all.stdout)")
        let again = try statectl("readers", "--all", "--json")
        #expect(again.stdout.contains("its record belongs to uid 4243, its lock file to uid 4244"), "still invalid on the next look: \(again.stdout)")
    }
}

/// Item 2: a root reader's record. Before the fix its temp file was `ID.json.tmp`, opened
/// `O_CREAT|O_TRUNC` without `O_EXCL`: a hard link planted there made the reader truncate a
/// root-only file elsewhere and make it `0644`. Now the temp name is random and created
/// `O_EXCL`: the planted names are never opened, and the record is still written.
extension ProcessTests.RegistryOwnerTests {
    @Test func aPlantedTempNameNeverMakesARootReaderWriteElsewhere() throws {
        try makeSharedStore()
        let elsewhere = TemporaryDirectory()
        #expect(chmod(elsewhere.path, 0o755) == 0, "the attacker may reach the file, not read it")
        let secret = elsewhere.file("secret")
        try "root's secret\n".write(toFile: secret, atomically: false, encoding: .utf8)
        #expect(chmod(secret, 0o600) == 0)
        let reader = try RunningHelper(
            [CLI.url.path, "--dir", dir.path, "watch", "--as", "root-bot", "--ack"], executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { reader.signal(SIGKILL) }
        #expect(reader.waitForLine { $0.contains("\"version\"") })
        var id = ""
        #expect(LockHolderWait.until { id = ((try? dir.names(in: "state.readers")) ?? []).first { $0.hasSuffix(".lock") }.map { String($0.dropLast(5)) } ?? ""; return !id.isEmpty })
        try withUnprotectedHardLinks {
            let plant = try asAttacker("ln \"\(secret)\" \(id).json.tmp && mkfifo \(id).json.0000000000000001.tmp && echo planted")
            #expect(plant.waitForLine { $0 == "planted" }, "the attacker planted a link to root's file at the old temp name")
        }
        let halt = try statectl("set", "/halt", "true", "--await-ack", "root-bot@root", "--ack-timeout", "10")
        #expect(halt.status == 0, "the root reader wrote its record all the same: \(halt)")
        var status = stat()
        #expect(stat(secret, &status) == 0 && status.st_mode & 0o777 == 0o600, "root's file keeps its mode")
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "root's secret\n", "and its content")
    }

    /// A lister through a `NAME.readers` swapped for a link: before the fix, root's
    /// `statectl readers` "swept" the dead-looking entries of the directory it points to.
    @Test func aListerNeverSweepsThroughAPlantedLink() throws {
        #expect(try statectl("init", "--mode", "0660").status == 0)
        #expect(chown(dir.path, 0, gid_t(SecondUser.gid)!) == 0 && chmod(dir.path, 0o770) == 0)
        let rootOnly = TemporaryDirectory()
        for name in ["1-00000000000000c1.lock", "1-00000000000000c1.json", "1-00000000000000c2.json"] {
            try "root's file\n".write(toFile: rootOnly.file(name), atomically: false, encoding: .utf8)
        }
        let plant = try statectl.shell("\(SecondUser.shellPrefix) ln -s \"\(rootOnly.path)\" \"$STATECTL_DIR/state.readers\"")
        #expect(plant.status == 0, "\(plant)")
        let listed = try statectl("readers")
        #expect(listed.status != 0 && listed.stderr.contains("symbolic link"), "the link is refused, and said: \(listed)")
        let halt = try statectl("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "1")
        #expect(halt.status == 10 && halt.stderr.contains("symbolic link"), "\(halt)")
        #expect(try rootOnly.names() == ["1-00000000000000c1.json", "1-00000000000000c1.lock", "1-00000000000000c2.json"], "nothing removed there")
    }
}

/// Item 5: a flood of entries. Before the fix, 200,000 entries made `statectl readers` take
/// 10.5 s and the sidecar 606 MB. Now a listing looks at 4,096 entries at most, taken from each
/// user in turn, so the bot's entry is among them; it says the registry was not looked at whole,
/// and a wait for everyone is then not complete.
extension ProcessTests.RegistryOwnerTests {
    @Test func aFloodOfEntriesHidesNoReaderAndIsSaid() throws {
        try makeSharedStore()
        let flood = try asAttacker(
            #"exec python3 -c 'import fcntl,os,sys; fds=[os.open("4243-%016x.lock" % i, os.O_CREAT|os.O_RDONLY, 0o600) for i in range(5000)]; [fcntl.flock(fd, fcntl.LOCK_SH) for fd in fds]; print("planted", flush=True); sys.stdin.read()'"#)
        defer { flood.signal(SIGKILL) }
        #expect(flood.waitForLine(timeout: .seconds(60)) { $0 == "planted" }, "5,000 live entries of the attacker's")
        let bot = try startBot()
        defer { bot.signal(SIGKILL) }
        let listed = try statectl("readers")
        let botLine = listed.stdout.split(separator: "\n").first { $0.hasPrefix("bot-eu-1 ") }
        #expect(botLine?.split(separator: " ").dropFirst().first == "4244", "the bot is among those looked at: \(listed.stdout.prefix(300))")
        #expect(listed.stderr.contains("holds 5001 entries, more than the 4096 looked at"), "\(listed.stderr)")
        let named = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "10")
        #expect(named.status == 0, "a wait for the bot completes: \(named.stderr.prefix(300))")
        let all = try statectl("set", "/halt", "false", "--await-ack", "all", "--ack-timeout", "1")
        #expect(all.status == 10 && all.stderr.contains("more than the 4096 looked at"), "a wait for everyone is not: \(all.stderr.prefix(300))")
    }
}

/// Item 5: the acknowledgement wait keeps its deadline while it lists.
@Suite("Registry listing limits")
struct RegistryListingLimitTests {
    let dir = TemporaryDirectory()

    @Test func aListingPastItsDeadlineStopsAndSaysSo() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        let registry = ReaderRegistry(store.handle)
        let stopped = try registry.listing(readerUsers: nil, deadline: .now)
        #expect(stopped.stoppedEarly && stopped.considered == 0 && stopped.readers.isEmpty && !stopped.isComplete)
        #expect(stopped.incompleteness?.contains("stopped at its deadline") == true)
        let whole = try registry.listing(readerUsers: nil)
        #expect(whole.isComplete && whole.readers.map(\.label) == ["bot"] && whole.readers[0].owner == getuid())
        let others = try registry.listing(readerUsers: [getuid() + 1])
        #expect(others.readers.isEmpty && others.notCounted.map(\.label) == ["bot"], "a user the store does not name is not counted")
    }

    /// Found in review: with a timeout of 0 the first listing stopped before its first entry, and a
    /// reader that applied was reported again every 50 ms while another label was missing.
    @Test func aZeroTimeoutStillCountsAndNoReaderIsReportedTwice() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let reader = try await StateObservation(label: "bot").reader(in: store)
        defer { reader.close() }
        let halted = try await store.update { try $0.set(true, forKey: "halt") }
        let seen = try await reader.wait { $0.version == halted.version }
        reader.acknowledge(seen)
        await reader.waitUntilReported()
        let now = await store.waitForAcknowledgements(of: halted, timeout: .zero)
        #expect(now.isComplete && now.applied.map(\.label) == ["bot"], "\(now)")
        let me = ReaderName(label: "bot", owner: getuid())
        let named = await store.waitForAcknowledgements(
            of: halted, from: .named([me, ReaderName(label: "other", owner: getuid())]), timeout: .milliseconds(400))
        #expect(named.applied.count == 1 && named.missingLabels.count == 1 && !named.isComplete, "\(named.applied.count) applied: \(named)")
    }

    @Test func readerNamesParseLabelAtUser() throws {
        #expect(try ReaderName(parsing: "bot-eu-1@root") == ReaderName(label: "bot-eu-1", owner: 0))
        #expect(try ReaderName(parsing: "bot@eu@0") == ReaderName(label: "bot@eu", owner: 0), "the last @ separates")
        #expect(try ReaderName(parsing: "bot-eu-1") == ReaderName(label: "bot-eu-1"))
        #expect(throws: StateStoreError.self) { try ReaderName(parsing: "bot@no-such-user-here") }
        #expect(throws: StateStoreError.self) { try ReaderName(parsing: "@root") }
    }

    @Test func readerUsersAreKeptInTheHeaderAndChecked() async throws {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        let set = try await store.setReaderUsers([4244, 4243, 4244])
        #expect(set.settings.readerUsers == [4243, 4244])
        let line = try String(contentsOfFile: store.stateFilePath, encoding: .utf8).prefix { $0 != "\n" }
        #expect(line.contains("\"readerUsers\":[4243,4244]") && line.contains("\"revision\":4"), "\(line)")
        #expect(HeaderScanner.header(ArraySlice(Array(line.utf8)))?.settings.readerUsers == [4243, 4244], "the fast scanner reads it")
        await #expect(throws: StateStoreError.self) { try await store.setReaderUsers([]) }
        let cleared = try await store.setReaderUsers(nil)
        #expect(cleared.settings.readerUsers == nil)
    }
}

/// Item 4, for lock files made before they were `0600` (here: the bot's made `0644` again): the
/// attacker holds a shared lock on it and the bot is killed. Before the fix a root lister, which
/// decides by `flock`, saw the entry held and the bot "live" for as long as the attacker liked.
/// Now a lock file others may open counts as held only if a process of its owner holds it.
extension ProcessTests.RegistryOwnerTests {
    @Test func anOldOpenLockFileHeldByAnotherUserIsNoLiveReader() throws {
        try makeSharedStore()
        let bot = try startBot()
        defer { bot.signal(SIGKILL) }
        guard let id = botEntry() else { Issue.record("no bot entry"); return }
        #expect(chmod(registry + "/" + id + ".lock", 0o644) == 0, "as a library before the fix made it")
        let hold = try asAttacker("exec flock -s \(id).lock -c 'echo planted; exec sleep 60'")
        defer { hold.signal(SIGKILL) }
        #expect(hold.waitForLine { $0 == "planted" })
        bot.signal(SIGKILL)
        _ = bot.waitForExit()
        let listed = try statectl("readers", "--all", "--json")
        #expect(!listed.stdout.contains("\"bot-eu-1\""), "the dead bot is not listed live: \(listed.stdout)")
        #expect(listed.stdout.contains("held only by processes of other users"), "\(listed.stdout)")
        let halt = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "1")
        #expect(halt.status == 10 && !halt.stderr.contains("has not applied") && halt.stderr.contains("no live reader"), "\(halt)")
    }
}

/// A record name another user took (the race between a reader's lock file and its first record,
/// played here by removing the bot's record and planting the attacker's file in its place): the
/// bot's rename is refused by the sticky directory. Before the fix every later acknowledgement
/// failed the same way and the entry stayed invalid; now the bot registers again under a new ID.
extension ProcessTests.RegistryOwnerTests {
    @Test func aReaderWhoseRecordNameWasTakenRegistersAgain() throws {
        try makeSharedStore()
        let bot = try startBot()
        defer { bot.signal(SIGKILL) }
        guard let id = botEntry() else { Issue.record("no bot entry"); return }
        // Stopped meanwhile, so that no record write of its own slips in between.
        bot.stop()
        #expect(unlink(registry + "/" + id + ".json") == 0)
        let plant = try asAttacker("printf %s '\(forgedRecord)' > \(id).json && echo planted")
        #expect(plant.waitForLine { $0 == "planted" })
        bot.signal(SIGCONT)
        let halt = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1@\(Self.botUser)", "--ack-timeout", "10")
        #expect(halt.status == 0, "the bot acknowledged under a new entry: \(halt)")
        #expect(botEntry() != id, "its old entry is gone")
    }
}
