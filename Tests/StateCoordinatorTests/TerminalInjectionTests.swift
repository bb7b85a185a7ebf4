import Foundation
import Testing

@testable import StateCoordinator

/// Issue 19, item 7: text others choose never reaches an operator's terminal raw. The attacker is
/// uid 4243 in the store's writers' group 4242 (through `setpriv`): it holds the lock under a
/// command line with escape sequences, and commits a version with an escaping writer label
/// through the Python package (Sources/python); the operator (root) then runs statectl.
extension ProcessTests {
    @Suite("Terminal injection")
    struct TerminalInjectionTests {
        let dir = TemporaryDirectory()
        var statectl: CLI { CLI(directory: dir.path) }
        static let escape = "\u{1B}]0;pwned\u{07}\u{1B}[2J"

        /// No ESC, BEL, DEL, C1 control or bidi override in what an operator sees.
        static func isSafe(_ text: String) -> Bool {
            !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) || (0x202A...0x202E).contains($0.value) }
        }

        func giveToWritersGroup() {
            for name in ["", "/state.json", "/state.lock", "/state.history"] where FileManager.default.fileExists(atPath: dir.path + name) {
                #expect(chown(dir.path + name, 0, 4242) == 0)
            }
            #expect(chmod(dir.path, 0o770) == 0)
        }

        @Test func aHoldersCommandLineIsShownSafe() throws {
            #expect(try statectl("init", "--mode", "0660").status == 0)
            giveToWritersGroup()
            let holder = try RunningHelper(
                SecondUser.setpriv + ["flock", dir.file("state.lock"), "-c",
                 "echo held; exec sleep 30 # " + Self.escape],
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            defer { holder.signal(SIGKILL) }
            #expect(holder.waitForLine(timeout: .seconds(30)) { $0 == "held" })
            let status = try statectl("status")
            #expect(status.stdout.contains("uid 4243") && status.stdout.contains("?]0;pwned??[2J"), "\(status)")
            let blocked = try statectl("--lock-timeout", "0.2", "set", "/a", "1")
            #expect(blocked.status == 4 && blocked.stderr.contains("uid 4243"), "\(blocked)")
            for text in [status.stdout, status.stderr, blocked.stderr] { #expect(Self.isSafe(text), "\(text.debugDescription)") }
        }

        @Test func aForeignWritersLabelIsShownSafeAndOursAreChecked() throws {
            #expect(try statectl("init", "--mode", "0660", "--keep-history", "5").status == 0)
            giveToWritersGroup()
            // The Python package, copied where the group member can read it, writes any label it is given.
            let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/python/statecoordinator")
            try FileManager.default.copyItem(at: package, to: URL(fileURLWithPath: dir.file("statecoordinator")))
            let script = "import sys; sys.path.insert(0, sys.argv[1]); from statecoordinator import _format, store; "
                + "store._check_label = lambda label, fallback=False: label; "
                + "store.Store(sys.argv[2], label=sys.argv[3]).update(lambda s: {**s, 'n': 1})"
            let foreign = try statectl.shell(
                "\(SecondUser.shellPrefix) /usr/bin/python3 -c \"$SCRIPT\" \"$STATECTL_DIR\" \"$STATECTL_DIR\" \"$LABEL\"",
                environment: ["SCRIPT": script, "LABEL": "bot" + Self.escape, "PYTHONDONTWRITEBYTECODE": "1"])
            #expect(foreign.status == 0, "the group member committed: \(foreign)")
            #expect(try statectl("set", "/n", "2").status == 0)
            for command in [["history"], ["status"], ["get", "--meta"]] {
                let shown = try statectl.run(["--dir", dir.path] + command)
                #expect(shown.status == 0 && Self.isSafe(shown.stdout), "\(command): \(shown.stdout.debugDescription)")
            }
            let ours = try statectl("--label", "ops" + Self.escape, "set", "/n", "3")
            #expect(ours.status == 2 && ours.stderr.contains("Writer label") && Self.isSafe(ours.stderr), "\(ours)")
        }

        @Test func namesAndStringsInMessagesAndOutputAreEscaped() throws {
            #expect(try statectl("init").status == 0)
            let schema = dir.file("s.json")
            try #"{"additionalProperties": false}"#.write(toFile: schema, atomically: false, encoding: .utf8)
            #expect(try statectl("schema", "set", schema).status == 0)
            let refused = try statectl("set", "/" + Self.escape, "1")
            #expect(refused.status == 11 && Self.isSafe(refused.stderr), "\(refused.stderr.debugDescription)")
            #expect(try statectl("schema", "clear").status == 0)
            let value = "del\u{7F} csi\u{9B}2J rlo\u{202E}txt"
            #expect(try statectl("set", "/s", JSONValue.string(value).compactJSON).status == 0)
            let got = try statectl("get", "/s")
            #expect(got.stdout == "\"del\\u007f csi\\u009b2J rlo\\u202etxt\"\n", "\(got.stdout.debugDescription)")
            #expect(try JSONValue(parsing: Array(got.stdout.utf8)) == .string(value), "the same value")
        }
    }
}
