import Foundation
import Synchronization

/// Where a long run is: the phase it is in, how far along the whole run is (0…1, when it can be
/// told) and the figures so far.
public struct ProgressStatus: Sendable {
    /// The phase (a workload's name).
    public var phase: String
    /// How much of the whole run is done, from 0 to 1; nil when unknown.
    public var fraction: Double?
    /// Figures so far ("1843 kills, 52110 commits, 0 violations").
    public var detail: String

    /// A status.
    public init(phase: String, fraction: Double?, detail: String = "") {
        self.phase = phase
        self.fraction = fraction
        self.detail = detail
    }
}

/// Shows a long run's progress on stderr while it runs: a bar with the phase and an estimate of
/// the time left, redrawn in place, when stderr is a terminal; otherwise one line every 10 s (a
/// CI log). Stdout is left to the results.
public final class ProgressReporter: Sendable {
    private let label: String
    private let terminal: Bool
    private let interval: Duration
    private let status: @Sendable () -> ProgressStatus
    private let running = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = ContinuousClock.now

    /// - Parameters:
    ///   - label: the program's name, at the start of each line.
    ///   - terminal: whether stderr is a terminal (default: asked with `isatty`).
    ///   - interval: between lines when it is not (default 10 s).
    ///   - status: called on the reporter's own thread at each redraw; keep it cheap and thread-safe.
    public init(
        label: String, terminal: Bool = isatty(STDERR_FILENO) != 0, interval: Duration = .seconds(10),
        status: @escaping @Sendable () -> ProgressStatus
    ) {
        self.label = label
        self.terminal = terminal
        self.interval = interval
        self.status = status
    }

    /// Starts redrawing on a thread of its own.
    public func start() {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            let pause = terminal ? Duration.milliseconds(500) : interval
            while running.load(ordering: .acquiring) {
                if finished.wait(timeout: .now() + .nanoseconds(Int(pause.components.seconds) * 1_000_000_000 + Int(pause.components.attoseconds / 1_000_000_000))) == .success { break }
                guard running.load(ordering: .acquiring) else { break }
                write(line(status()), final: false)
            }
        }
        thread.name = label + ".progress"
        thread.start()
    }

    /// Stops, and clears the bar on a terminal (the results follow on stdout).
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.signal()
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// One line: `label: phase [#####-----] 42%, 3m10s elapsed, about 4m20s left; detail`.
    func line(_ status: ProgressStatus, now: ContinuousClock.Instant = .now) -> String {
        let elapsed = now - started
        var text = "\(label): \(status.phase)"
        if let fraction = status.fraction.map({ min(1, max(0, $0)) }) {
            let width = 20
            let filled = Int((fraction * Double(width)).rounded(.down))
            text += " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
            text += " \(Int((fraction * 100).rounded(.down)))%, \(Self.format(elapsed)) elapsed"
            if fraction > 0.01 {
                let left = elapsed * ((1 - fraction) / fraction)
                text += ", about \(Self.format(left)) left"
            }
        } else {
            text += ", \(Self.format(elapsed)) elapsed"
        }
        if !status.detail.isEmpty { text += "; " + status.detail }
        return text
    }

    private func write(_ line: String, final: Bool) {
        let bytes = terminal ? "\r\u{1B}[K" + line : line + "\n"
        FileHandle.standardError.write(Data(bytes.utf8))
    }

    /// `45s`, `3m10s`, `1h02m`.
    static func format(_ duration: Duration) -> String {
        let seconds = max(0, Int(duration.components.seconds))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
        return "\(seconds / 3600)h\(String(format: "%02d", seconds % 3600 / 60))m"
    }
}
