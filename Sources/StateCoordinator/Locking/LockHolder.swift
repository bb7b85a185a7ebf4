/// A process holding a store's writer lock, as the kernel reports it in `/proc/locks`.
///
/// Found for any holder, not only this library: util-linux `flock(1)`, Python's `fcntl.flock`, …
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
    /// The holder's process id (as seen from this process's PID namespace).
    public var pid: Int32
    /// The holder's command line (`/proc/PID/cmdline`, arguments joined by spaces), when readable.
    public var command: String?

    /// Creates a holder description.
    public init(pid: Int32, command: String?) {
        self.pid = pid
        self.command = command
    }

    /// `pid 1234 (flock state.lock sleep 2)`.
    public var description: String {
        if let command { return "pid \(pid) (\(command))" }
        return "pid \(pid)"
    }
}
