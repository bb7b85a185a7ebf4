import Foundation

/// A host whose readers' state cannot be known from here: readers were registered there (the
/// store on etcd keeps a roster of them), but neither its mirror nor any direct reader of it
/// holds a live lease now. Its readers are never counted as applied, nor as dead: they may be
/// running and cut off, or gone.
public struct UnreachableHost: Sendable, Equatable {
    /// The host's name, as its readers and mirror report it.
    public var hostName: String
    /// When anything on the host was last heard of (a lease kept alive, a record written); nil
    /// when nothing says.
    public var lastHeard: Date?
    /// Whether the host's readers include any behind its mirror (then the mirror is what is
    /// unreachable).
    public var hasMirror: Bool
    /// The readers registered there, as last known.
    public var readers: [RegisteredReader]
    /// Whether something on the host is still heard from (its mirror, another direct reader):
    /// then the host is not cut off as a whole, and these readers are dead or about to be told so
    /// (after their lease's TTL) — or cut off with the host just now, the rest of it not yet
    /// lapsed.
    public var heardFrom: Bool = false

    /// Creates a description of an unreachable host.
    public init(hostName: String, lastHeard: Date?, hasMirror: Bool, readers: [RegisteredReader]) {
        self.hostName = hostName
        self.lastHeard = lastHeard
        self.hasMirror = hasMirror
        self.readers = readers
    }

    /// One line for an operator: `host b: mirror unreachable since 12:00:01 UTC; its 3 readers' state is unknown`.
    public var summary: String {
        if heardFrom {
            let count = readers.count == 1 ? "1 reader's lease is" : "\(readers.count) readers' leases are"
            return "host \(TerminalText.safe(hostName)): heard from, but \(count) gone (dead, or cut off; told apart after the lease's TTL)"
        }
        let since = lastHeard.map { " since " + Self.format($0) } ?? ""
        let what = hasMirror ? "mirror unreachable" : "no reader reachable"
        let count = readers.count == 1 ? "its 1 reader's" : "its \(readers.count) readers'"
        return "host \(TerminalText.safe(hostName)): \(what)\(since); \(count) state is unknown"
    }

    static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS 'UTC'"
        return formatter.string(from: date)
    }
}
