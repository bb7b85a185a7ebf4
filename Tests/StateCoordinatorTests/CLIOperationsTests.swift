import Foundation
import Testing

extension ProcessTests {
/// statectl's commands for operators and sidecars: edit, watch, status, history, show, diff,
/// rollback, verify.
@Suite("statectl: edit, watch, status, history, show, diff, rollback, verify")
struct CLIOperationsTests {
    let dir = TemporaryDirectory()
    var statectl: CLI { CLI(directory: dir.path) }

    private func editor(_ script: String) throws -> String {
        let path = dir.file("editor.sh")
        try Data(("#!/bin/sh\n" + script + "\n").utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    @Test func editCommitsTheEditedCopy() throws {
        _ = try statectl("init")
        _ = try statectl("set", "/halt", "false")
        let edit = try statectl("edit", environment: ["EDITOR": try editor("sed -i 's/false/true/' \"$1\""), "VISUAL": ""])
        #expect(edit.status == 0 && edit.stdout == "2\n", "\(edit)")
        #expect(try statectl("get", "/halt").stdout == "true\n")
    }

    @Test func editKeepsTheCopyOnInvalidJSONAndOnAConflict() throws {
        _ = try statectl("init")
        let invalid = try statectl("edit", environment: ["EDITOR": try editor("echo '{broken' > \"$1\""), "VISUAL": ""])
        #expect(invalid.status == 1 && invalid.stderr.contains("kept in") && invalid.oneDiagnosticLine, "\(invalid)")
        let kept = String(invalid.stderr.split(separator: " ").last!.dropLast(2))
        #expect(FileManager.default.fileExists(atPath: kept), "\(kept)")
        // While the operator edits, a bot commits: the edit must not overwrite it.
        let racing = try editor("statectl --dir \(dir.path) set /bot 1 >/dev/null; echo '{\"operator\": 1}' > \"$1\"")
        let conflict = try statectl.shell("statectl edit", environment: ["EDITOR": racing, "VISUAL": ""])
        #expect(conflict.status == 3 && conflict.stderr.contains("kept in"), "\(conflict)")
        #expect(try statectl("get").stdout == "{\n  \"bot\" : 1\n}\n")
    }

    @Test func watchPrintsTheCurrentVersionThenCommitsOfOtherProcesses() throws {
        _ = try statectl("init")
        let watch = try RunningHelper(["--dir", dir.path, "watch", "--count", "3"], executable: CLI.url)
        #expect(watch.waitForLine { $0.contains("\"version\":0") })
        #expect(try HelperProcess.run(["incr", dir.path, "1"]).status == 0)
        #expect(watch.waitForLine { $0.contains("\"version\":1") })
        _ = try statectl("set", "/halt", "true")
        let result = watch.waitForExit()
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let last = try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any]
        #expect(Set(last?.keys.map { $0 } ?? []) == ["version", "committedAt", "writer", "state"])
        #expect((last?["state"] as? [String: Any])?["halt"] as? Bool == true)
    }

    @Test func watchExitsSevenWhenTheDeadlinePasses() throws {
        _ = try statectl("init")
        let result = try statectl("watch", "--count", "5", "--timeout", "0.3")
        #expect(result.status == 7 && result.stdout.split(separator: "\n").count == 1 && result.oneDiagnosticLine, "\(result)")
    }

    @Test func watchSinceReplaysKeptVersionsAndSaysWhichAreGone() throws {
        _ = try statectl("init", "--keep-history", "3")
        for value in 1...6 { _ = try statectl("set", "/n", "\(value)") }
        let replay = try statectl("watch", "--since", "3", "--count", "3")
        #expect(replay.stdout.split(separator: "\n").map { $0.contains("\"n\":4") || $0.contains("\"n\":5") || $0.contains("\"n\":6") } == [true, true, true])
        let gone = try statectl("watch", "--since", "1", "--count", "3")
        #expect(gone.status == 0 && gone.stderr.contains("versions 2-2 are no longer kept"), "\(gone)")
        expectGolden(CLI.Result(status: gone.status, stdout: "", stderr: gone.stderr), "watch-since-gone", replacing: [(dir.path, "$DIR")])
    }

    @Test func statusNamesAForeignLockHolderAndOrphanTempFiles() throws {
        _ = try statectl("init", "--keep-history", "2")
        _ = try statectl("set", "/a", "1")
        try plantOldFile(dir.file(".state.tmp-orphan"))
        let holder = try RunningHelper(
            ["-c", "exec flock \(dir.file("state.lock")) sh -c 'echo locked; sleep 3'"], executable: URL(fileURLWithPath: "/bin/sh"))
        defer { holder.signal(SIGKILL); _ = holder.waitForExit() }
        #expect(holder.waitForLine { $0 == "locked" })
        let status = try statectl("status", "--json")
        #expect(status.status == 0, "\(status)")
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["version", "size", "ageSeconds", "writer", "lockHolder", "watchMode", "orphanTempFiles", "historyCount", "historyRetention", "readers", "schema", "lockFileWarning", "readerUsers"])
        let readers = object?["readers"] as? [String: Any]
        #expect(readers?["live"] as? Int == 0 && readers?["lagging"] as? Int == 0 && readers?["rejecting"] as? Int == 0, "\(status.stdout)")
        #expect(readers?["warning"] is NSNull && object?["readerUsers"] is NSNull, "\(status.stdout)")
        let lockHolder = object?["lockHolder"] as? [String: Any]
        #expect((lockHolder?["command"] as? String)?.hasPrefix("flock \(dir.file("state.lock"))") == true, "\(status.stdout)")
        #expect((object?["watchMode"] as? [String: Any])?["mode"] as? String == "inotify")
        // While a writer holds the lock a temp file may be its commit in flight: not an orphan.
        #expect(object?["orphanTempFiles"] as? [String] == [])
        #expect(object?["historyCount"] as? Int == 1)
        let text = try statectl("status")
        #expect(text.stdout.contains("lock holder:  pid") && text.stdout.contains("flock"))
        let blocked = try statectl("set", "/a", "2", "--lock-timeout", "0.2")
        #expect(blocked.status == 4 && blocked.stderr.contains("flock") && blocked.oneDiagnosticLine, "\(blocked)")
        expectGolden(blocked, "lock-timeout", replacing: [(dir.path, "$DIR"), ("\(holder.pid)", "$PID"), ("uid \(getuid())", "uid $UID")])
        holder.signal(SIGKILL)
        _ = holder.waitForExit()
        let free = try statectl("status", "--json")
        let orphans = (try JSONSerialization.jsonObject(with: Data(free.stdout.utf8)) as? [String: Any])?["orphanTempFiles"]
        #expect(orphans as? [String] == [".state.tmp-orphan"], "\(free)")
    }

    @Test func historyShowDiffAndRollback() throws {
        _ = try statectl("init", "--keep-history", "5")
        _ = try statectl("set", "/a", "1")
        _ = try statectl("set", "/b", "[1,2]")
        _ = try statectl("set", "/a", "3")
        let history = try statectl("history", "--json", "--limit", "2")
        #expect(history.stdout.split(separator: "\n").map { $0.hasPrefix("{\"committedAt\"") } == [true, true])
        #expect(history.stdout.split(separator: "\n").first?.contains("\"version\":2") == true)
        #expect(try statectl("history").stdout.split(separator: "\n").count == 3)
        #expect(try statectl("show", "1").stdout == "{\n  \"a\" : 1\n}\n")
        #expect(try statectl("show", "3").stdout == "{\n  \"a\" : 3,\n  \"b\" : [\n    1,\n    2\n  ]\n}\n")
        let diff = try statectl("diff", "1", "3")
        #expect(diff.stdout.replacing(" ", with: "").replacing("\n", with: "") == #"[{"op":"replace","path":"/a","value":3},{"op":"add","path":"/b","value":[1,2]}]"#)
        #expect(try statectl("rollback", "--to", "1").stdout == "4\n")
        #expect(try statectl("get").stdout == "{\n  \"a\" : 1\n}\n")
        let unknown = try statectl("show", "99")
        #expect(unknown.status == 6 && unknown.oneDiagnosticLine)
        #expect(try statectl("rollback", "--to", "99").status == 6)
        #expect(try statectl("rollback", "--to", "2", "--expect-version", "3").status == 3)
    }

    @Test func verifyIsHealthyOrListsEveryProblem() throws {
        _ = try statectl("init", "--keep-history", "2")
        _ = try statectl("set", "/a", "1")
        let healthy = try statectl("verify")
        #expect(healthy.status == 0 && healthy.stdout.hasPrefix("ok"))
        try plantOldFile(dir.file(".state.tmp-left"))
        var bytes = try dir.contents("state.json")
        bytes[bytes.count - 3] = UInt8(ascii: "9")
        try bytes.write(to: URL(fileURLWithPath: dir.file("state.json")))
        let sick = try statectl("verify")
        #expect(sick.status == 5)
        #expect(sick.stdout.contains("fails its checksum") && sick.stdout.contains(".state.tmp-left"), "\(sick)")
        #expect(try statectl("get").status == 5)
    }

    @Test func aPlainJSONFileInPlaceOfAStoreIsNamedAForeignOverwrite() throws {
        _ = try statectl("init")
        try Data(#"{"halt": true}"#.utf8).write(to: URL(fileURLWithPath: dir.file("state.json")))
        let get = try statectl("get")
        #expect(get.status == 5 && get.stderr.contains("overwritten by a foreign plain-JSON write") && get.oneDiagnosticLine, "\(get)")
        #expect(get.stderr.contains("recover --adopt") && !get.stderr.contains("init --from"), "\(get)")
        expectGolden(get, "plain-json-in-place", replacing: [(dir.path, "$DIR")])
        #expect(try statectl("set", "/halt", "false").status == 5)
        #expect(try dir.contents("state.json") == Data(#"{"halt": true}"#.utf8))
    }

    @Test func completionScriptIsGenerated() throws {
        let result = try statectl.run(["--generate-completion-script", "bash"])
        #expect(result.status == 0 && result.stdout.contains("statectl"))
    }

    @Test func everySubcommandsHelpHasAnExample() throws {
        for command in ["init", "get", "set", "delete", "incr", "patch", "put", "edit", "watch", "status", "history", "show", "diff", "rollback", "recover", "verify"] {
            let help = try statectl.run([command, "--help"])
            #expect(help.status == 0 && help.stdout.contains("Example: statectl"), "\(command)")
        }
        #expect(try statectl.run(["--help"]).stdout.contains("7  watch deadline passed"))
    }
}
}
