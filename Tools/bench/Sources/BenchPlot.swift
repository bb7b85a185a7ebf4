import Foundation

/// `--plot DIR`: renders the run's JSON as PNG charts with `Tools/bench/plot.py` (matplotlib).
enum BenchPlot {
    /// The script, beside this tool's sources in the checkout.
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("plot.py")

    static func render(json: String, into directory: String) throws {
        guard FileManager.default.fileExists(atPath: script.path) else {
            throw PlotFailure("--plot needs \(script.path) (run state-bench from its checkout).")
        }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", script.path, json, directory]
        try python.run()
        python.waitUntilExit()
        guard python.terminationStatus == 0 else {
            throw PlotFailure("plot.py failed (exit \(python.terminationStatus)); is matplotlib installed (python3 -m pip install matplotlib)?")
        }
    }

    struct PlotFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
