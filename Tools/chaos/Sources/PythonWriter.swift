import Foundation

/// The Python writer of the harness: the `statecoordinator` package (Sources/python) incrementing
/// the same counter as the Swift writers, logging each acknowledged commit the same way.
enum PythonWriter {
    /// `python3 -c` program; arguments: the store's directory, the log file. One `os.write` per
    /// acknowledged commit, so a SIGKILL loses at most a line for a commit nobody was told about.
    static let program = """
        import os, sys
        from statecoordinator import Store
        store = Store(sys.argv[1], label="chaos-python-writer")
        log = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
        def bump(state):
            state["counter"] += 1
        while True:
            snapshot = store.update(bump, lock_timeout=60)
            os.write(log, b"%d %d\\n" % (snapshot.version, snapshot.state["counter"]))
        """

    /// The Python combining writer: `Store.apply` incrementing `/c/KEY`, a counter of its own, and
    /// logging what the Swift combining writer logs (``ChaosWorker``): "c KEY N VERSION" after the
    /// N-th acknowledged update, "violation …" when the answer's counter is not exactly N,
    /// "unknown KEY N" when the outcome could not be told (it then goes on from what the state holds).
    static let combiningProgram = """
        import os, sys, random
        from statecoordinator import OutcomeUnknown, Store
        store = Store(sys.argv[1], label="chaos-python-combining")
        log = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
        key = "%d-%d" % (os.getpid(), random.getrandbits(32))
        acknowledged = 0
        while True:
            try:
                snapshot = store.apply({"op": "incr", "path": "/c/" + key, "by": 1}, lock_timeout=60)
            except OutcomeUnknown:
                os.write(log, b"unknown %s %d\\n" % (key.encode(), acknowledged + 1))
                acknowledged = store.read().state.get("c", {}).get(key, 0)
                continue
            acknowledged += 1
            held = snapshot.state.get("c", {}).get(key)
            os.write(log, b"c %s %d %d\\n" % (key.encode(), acknowledged, snapshot.version))
            if held != acknowledged:
                os.write(log, b"violation %s: update %d acknowledged at version %d, whose state holds %r\\n" % (
                    key.encode(), acknowledged, snapshot.version, held))
        """

    /// The directory holding the package: `explicit` if given, else `Sources/python` of the
    /// checkout this binary was built in (an ancestor of `.build/…/state-chaos`), else of the
    /// working directory.
    static func packageDirectory(explicit: String?) throws -> String {
        var checkout = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while checkout.path != "/" && checkout.lastPathComponent != ".build" { checkout.deleteLastPathComponent() }
        let candidates = explicit.map { [$0] } ?? [
            checkout.deletingLastPathComponent().appendingPathComponent("Sources/python").path,
            FileManager.default.currentDirectoryPath + "/Sources/python",
        ]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/statecoordinator/__init__.py") {
            return URL(fileURLWithPath: candidate).standardizedFileURL.path
        }
        throw ChaosSetupError(
            "no Python package at \(candidates.joined(separator: " or ")) (looked for statecoordinator/__init__.py); "
                + "pass --python-package DIR, the directory that holds statecoordinator/ (Sources/python in a checkout)")
    }

    /// Checks, before the run, that `python3` imports the package from `directory`.
    static func checkImport(from directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import statecoordinator"]
        process.environment = environment(package: directory)
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { throw ChaosSetupError("cannot run python3: \(error)") }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ChaosSetupError("python3 cannot import statecoordinator from \(directory): \(message)")
        }
    }

    /// The environment of a Python writer: ours, with the package first on the import path.
    static func environment(package: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = [package, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        return environment
    }
}

/// A setup problem the harness reports before it starts anything.
struct ChaosSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
