import Foundation
import Testing

@testable import StateCoordinator

/// Issue 19, item 3: a user who may only read the state must not be able to hold the writer lock
/// (`flock` needs only read access). The attack runs as a second, unprivileged user: uid 4243 in
/// the store's group 4242 (a sidecars' group that reads the state), through `setpriv`.
extension ProcessTests {
    @Suite("The lockfile is the writers' alone")
    struct LockFileAccessTests {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }
        static let readersGroup = SecondUser.gid
        static let reader = SecondUser.uid

        /// The store's directory and files given to the readers' group, as the docs set it up.
        func shareWithReadersGroup() {
            for path in [dir.path, dir.file("state.json"), dir.file("state.lock")] {
                #expect(chown(path, 0, gid_t(Self.readersGroup)!) == 0)
            }
            #expect(chmod(dir.path, 0o750) == 0)
        }

        /// `flock -s` on the lockfile as the reader; returns the helper (it prints "held" once it holds the lock).
        func holdAsReader() throws -> RunningHelper {
            try RunningHelper(
                SecondUser.setpriv + [
                 "flock", "-s", dir.file("state.lock"), "-c", "echo held; exec sleep 30"],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
        }

        @Test func aUserWhoOnlyReadsCannotHoldTheLock() throws {
            #expect(try statectl("init").status == 0)
            var status = stat()
            #expect(stat(dir.file("state.lock"), &status) == 0 && status.st_mode & 0o777 == 0o600, "the lockfile is the owner's alone")
            #expect(stat(dir.file("state.json"), &status) == 0 && status.st_mode & 0o777 == 0o640, "the state stays readable by its group")
            shareWithReadersGroup()
            #expect(try CLI(directory: dir.path).run(["--dir", dir.path, "get"]).status == 0)
            let attack = try holdAsReader()
            defer { attack.signal(SIGKILL) }
            let (code, _, stderr, timedOut) = attack.waitForExit(timeout: .seconds(30))
            #expect(!timedOut && code != 0 && stderr.contains("Permission denied"), "the reader could not even open it: \(stderr)")
            let halt = try statectl("--lock-timeout", "2", "set", "/halt", "true")
            #expect(halt.status == 0, "the halt commits: \(halt)")
            #expect(try statectl("verify").status == 0)
            #expect(try statectl("status").stdout.contains("lockfile:     writers only"))
        }

        /// A lockfile left group-readable (as every earlier version made it) is flagged, and the
        /// attack it allows is named by uid when a commit times out.
        @Test func aLockfileReadersCanOpenIsFlaggedAndItsHolderNamedByUid() throws {
            #expect(try statectl("init").status == 0)
            #expect(chmod(dir.file("state.lock"), 0o640) == 0)
            shareWithReadersGroup()
            let verify = try statectl("verify")
            #expect(verify.status == 5 && verify.stdout.contains("readable by its group") && verify.stdout.contains("chmod 600"), "\(verify)")
            let status = try statectl("status", "--json")
            #expect(status.stdout.contains("\"lockFileWarning\" : \"") && status.stdout.contains("block every commit"), "\(status)")

            let attack = try holdAsReader()
            defer { attack.signal(SIGKILL) }
            #expect(attack.waitForLine(timeout: .seconds(30)) { $0 == "held" }, "the old mode lets the reader hold the lock")
            let halt = try statectl("--lock-timeout", "1", "set", "/halt", "true")
            #expect(halt.status == 4 && halt.stderr.contains("uid \(Self.reader)"), "the holder is named by uid: \(halt)")
        }

        @Test func aWritersGroupKeepsGroupAccessToTheLock() throws {
            #expect(chown(dir.path, 0, gid_t(Self.readersGroup)!) == 0 && chmod(dir.path, 0o2770) == 0, "a setgid writers' directory")
            #expect(try statectl("init", "--mode", "0660", "--keep-history", "2").status == 0)
            var status = stat()
            #expect(stat(dir.file("state.lock"), &status) == 0 && status.st_mode & 0o777 == 0o660)
            #expect(stat(dir.file("state.history"), &status) == 0 && status.st_mode & 0o7777 == 0o2770, "the set-group-ID bit stays")
            #expect(try statectl("verify").status == 0)
        }
    }
}

/// Issue 19, item 10: `NAME.history` is given the store's mode whatever the umask, so that a
/// writers' group can commit (link versions into it) without an operator's `chmod g+w`.
extension ProcessTests.LockFileAccessTests {
    @Test func aWritersGroupMemberCommitsIntoHistoryCreatedUnderUmask077() throws {
        #expect(try statectl.shell("umask 077 && statectl init --mode 0660 --keep-history 3").status == 0)
        var status = stat()
        #expect(stat(dir.file("state.history"), &status) == 0 && status.st_mode & 0o777 == 0o770, "the store's mode, not the umask's")
        for path in [dir.path, dir.file("state.json"), dir.file("state.lock"), dir.file("state.history")] {
            #expect(chown(path, 0, gid_t(Self.readersGroup)!) == 0)  // the administrator hands the store to the writers' group
        }
        #expect(chmod(dir.path, 0o770) == 0)
        let member = try statectl.shell(
            "\(SecondUser.shellPrefix) statectl --dir \"$STATECTL_DIR\" set /halt true")
        #expect(member.status == 0, "a member of the writers' group commits: \(member)")
        #expect(try dir.names(in: "state.history") == ["00000000000000000000.json"])
    }
}

/// Issue 19, item 2 (the registry directory): a member of a writers' group plants `NAME.readers`
/// as a symbolic link to a directory only root may write; a root reader that registers must not
/// write there. Before the fix its lock file and record landed in that directory.
extension ProcessTests.LockFileAccessTests {
    @Test func aRootReaderNeverRegistersThroughAPlantedLink() throws {
        #expect(try statectl("init", "--mode", "0660").status == 0)
        #expect(chown(dir.path, 0, gid_t(Self.readersGroup)!) == 0 && chmod(dir.path, 0o770) == 0)
        let rootOnly = TemporaryDirectory()
        let plant = try statectl.shell(
            "\(SecondUser.shellPrefix) ln -s \"\(rootOnly.path)\" \"$STATECTL_DIR/state.readers\"")
        #expect(plant.status == 0, "the member planted the link: \(plant)")
        let watch = try statectl("watch", "--as", "bot-eu-1", "--count", "1")
        #expect(watch.status == 0, "the reader reads all the same, unregistered: \(watch)")
        #expect(watch.stderr.contains("symbolic link"), "and says why it is not registered: \(watch)")
        #expect(try rootOnly.names().isEmpty, "nothing was written where the link points")
    }
}

/// Issue 19, items 1 and 5 (in part): an entry whose lock file is a symbolic link (here dangling)
/// or a FIFO, planted by uid 4243 in a 1777 registry, stands for no reader. Before the fix its
/// liveness was "unknown", counted as alive: every `--await-ack all` exited 10.
extension ProcessTests.LockFileAccessTests {
    @Test func aPlantedLinkOrFIFOIsNoReader() throws {
        #expect(try statectl("init").status == 0)
        #expect(mkdir(dir.file("state.readers"), 0o777) == 0 && chmod(dir.file("state.readers"), 0o1777) == 0)
        #expect(chmod(dir.path, 0o755) == 0)
        let plant = try statectl.shell(
            "cd \"$STATECTL_DIR/state.readers\" && \(SecondUser.shellPrefix) sh -c "
                + "'ln -s /nonexistent 4243-0123456789abcdef.lock && mkfifo 4243-fedcba9876543210.lock && printf %s \"$0\" > 4243-0123456789abcdef.json' "
                + #"'{"format":1,"label":"bot-eu-1","pid":4243,"host":"h","registeredAt":1,"updatedAt":1,"appliedVersion":99}'"#)
        #expect(plant.status == 0, "\(plant)")
        let halt = try statectl("set", "/halt", "true", "--await-ack", "all", "--ack-timeout", "1")
        #expect(halt.status == 0, "no reader to wait for: \(halt)")
        let readers = try statectl("readers", "--json")
        #expect(!readers.stdout.contains("4243-"), "\(readers)")
        let named = try statectl("set", "/halt", "false", "--await-ack", "bot-eu-1", "--ack-timeout", "1")
        #expect(named.status == 10 && named.stderr.contains("bot-eu-1"), "a planted label is no live reader of that name: \(named)")
    }
}

/// Issue 19, item 4: registry lock files are their readers' alone. Before the fix they were
/// `0644`: uid 4243 held a shared lock on a bot's entry, and the bot, killed, stayed "live"
/// (`--await-ack` said "has not applied" instead of "died"). Now the attacker cannot open it, and
/// a lister of another user tells liveness from `/proc/locks`.
extension ProcessTests.LockFileAccessTests {
    @Test func anotherUserCannotKeepADeadReaderAlive() throws {
        #expect(try statectl("init", "--mode", "0644").status == 0)
        #expect(chmod(dir.path, 0o755) == 0)
        #expect(mkdir(dir.file("state.readers"), 0o777) == 0 && chmod(dir.file("state.readers"), 0o1777) == 0)
        let bot = try RunningHelper(
            ["setpriv", "--reuid=4244", "--regid=4244", "--clear-groups", CLI.url.path, "--dir", dir.path, "watch", "--as", "bot-eu-1", "--ack"],
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { bot.signal(SIGKILL) }
        #expect(bot.waitForLine(timeout: .seconds(30)) { $0.contains("\"version\"") })
        var lockFile = ""
        #expect(LockHolderWait.until { lockFile = (try? dir.names(in: "state.readers").first { $0.hasSuffix(".lock") }) ?? ""; return !lockFile.isEmpty })
        var status = stat()
        #expect(stat(dir.file("state.readers/" + lockFile), &status) == 0 && status.st_mode & 0o777 == 0o600 && status.st_uid == 4244)

        func asAttacker(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let helper = try RunningHelper(
                SecondUser.setpriv + arguments,
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            helper.closeInput()
            return helper.waitForExit()
        }
        let hold = try asAttacker(["flock", "-s", "-n", dir.file("state.readers/" + lockFile), "true"])
        #expect(hold.status != 0, "the attacker cannot open the bot's lock file: \(hold)")
        let listed = try asAttacker([CLI.url.path, "--dir", dir.path, "readers", "--json"])
        #expect(listed.stdout.contains("bot-eu-1"), "another user sees the live bot through /proc/locks: \(listed)")

        bot.signal(SIGKILL)
        _ = bot.waitForExit()
        let after = try asAttacker([CLI.url.path, "--dir", dir.path, "readers", "--json"])
        #expect(!after.stdout.contains("bot-eu-1"), "and sees it dead once killed: \(after)")
        let halt = try statectl("set", "/halt", "true", "--await-ack", "bot-eu-1", "--ack-timeout", "1")
        #expect(halt.status == 10 && !halt.stderr.contains("has not applied"), "\(halt)")
    }
}

extension ProcessTests.LockFileAccessTests {
    /// A writers' group that keeps the default state mode (0640) in a group-writable directory:
    /// its members must still be able to lock.
    @Test func aGroupWritableDirectoryMakesItsGroupWriters() throws {
        #expect(chown(dir.path, 0, gid_t(Self.readersGroup)!) == 0 && chmod(dir.path, 0o2770) == 0)
        #expect(try statectl("init").status == 0)
        var status = stat()
        #expect(stat(dir.file("state.lock"), &status) == 0 && status.st_mode & 0o777 == 0o660, "the directory's group writes: it locks")
        #expect(try statectl("verify").status == 0, "and is not flagged")
        let member = try statectl.shell("\(SecondUser.shellPrefix) statectl --dir \"$STATECTL_DIR\" set /halt true")
        #expect(member.status == 0, "a member commits: \(member)")
    }
}
