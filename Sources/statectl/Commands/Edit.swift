import ArgumentParser
import Foundation
import StateCoordinator

struct Edit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit the state in $EDITOR; commit only if nobody committed meanwhile.",
        discussion: """
            On a conflict (exit 3) or invalid JSON (exit 1) nothing is committed and the edited copy is kept: \
            its path is printed.

            Example: statectl edit   (with EDITOR=vim in the environment)
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the committed version's metadata instead of its number.") var json = false
    @Flag(help: "Print the RFC 6902 diff of the edit and commit nothing.") var dryRun = false
    @OptionGroup var acknowledgement: AcknowledgementOptions

    func validate() throws {
        if dryRun && acknowledgement.awaitAck != nil { throw ValidationError("--dry-run commits nothing, so there is nothing for --await-ack to wait for.") }
    }

    func run() async throws {
        let store = try await global.openStore()
        let opened = try await store.read()
        let copy = try writeCopy(opened.state)
        try runEditor(on: copy)
        let edited: JSONValue
        do {
            edited = try Input.document(from: copy, limit: opened.settings.maximumStateBytes)
        } catch let failure as CLIFailure {
            throw CLIFailure(failure.code, "\(failure.message) Your edit is kept in \(copy).")
        }
        if dryRun {
            try await store.dryRun(expecting: opened.version) { $0 = edited }
            try? FileManager.default.removeItem(atPath: copy)
            return
        }
        do {
            let snapshot = try await store.replace(with: edited, expecting: opened.version)
            try? FileManager.default.removeItem(atPath: copy)
            try await store.printCommitted(snapshot, json: json, acknowledgement: acknowledgement)
        } catch let error as StateStoreError where error.code == .conflict {
            throw CLIFailure(
                .conflict,
                "version \(error.currentVersion.map(String.init) ?? "?") was committed while you edited version \(opened.version); nothing was committed. Your edit is kept in \(copy).")
        }
    }

    private func writeCopy(_ state: JSONValue) throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/statectl-edit-XXXXXX.json").utf8CString)
        let fd = mkstemps(&template, 5)
        guard fd >= 0 else { throw CLIFailure(.failure, "cannot create a temporary copy: \(String(cString: strerror(errno))).") }
        let path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try handle.write(contentsOf: Data((state.prettyJSON + "\n").utf8))
        return path
    }

    private func runEditor(on path: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let editor = [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Through the shell, so that EDITOR may carry arguments ("code --wait").
        process.arguments = ["-c", "\(editor) \"$1\"", "statectl-editor", path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIFailure(.failure, "the editor exited with \(process.terminationStatus); nothing was committed. Your copy is \(path).")
        }
    }
}
