/// A process holding a store's writer lock, as the kernel reports it in `/proc/locks`.
///
/// Found for any holder, not only this library: util-linux `flock(1)`, Python's `fcntl.flock`, …
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
    /// The holder's process id (as seen from this process's PID namespace).
    public var pid: Int32
    /// The user the holder runs as (the owner of `/proc/PID`), when it can be told: who to ask,
    /// whatever its command line claims.
    public var uid: UInt32?
    /// The holder's command line (`/proc/PID/cmdline`, arguments joined by spaces), when readable.
    /// It is the holder's own choice of text: control and formatting characters (escape
    /// sequences, bidirectional overrides) are shown as `?`, so that it cannot rewrite an
    /// operator's terminal.
    public var command: String?

    /// Creates a holder description.
    public init(pid: Int32, uid: UInt32? = nil, command: String?) {
        self.pid = pid
        self.uid = uid
        self.command = command
    }

    /// `pid 1234, uid 1001 (flock state.lock sleep 2)`: the uid before the command line.
    public var description: String {
        var text = "pid \(pid)"
        if let uid { text += ", uid \(uid)" }
        if let command { text += " (\(command))" }
        return text
    }
}
