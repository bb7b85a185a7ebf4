import Foundation
import HummingbirdCore
import Synchronization

/// `--max-connections`: the sidecar stops accepting connections while this many are open (they
/// wait in the listen backlog), so that a flood of connections (complete requests or not) can
/// never exhaust its file descriptors; the idle timeout then evicts the ones that send nothing.
/// The count is exported as `statecoord_sidecar_connections`.
final class ConnectionCount: Sendable {
    let limit: Int
    let open = Atomic(0)

    init(limit: Int) { self.limit = limit }

    /// Hummingbird's hook: called as connections open and close, asked before accepting.
    struct Delegate: AvailableConnectionsDelegate {
        let count: ConnectionCount
        mutating func connectionOpened() { count.open.add(1, ordering: .relaxed) }
        mutating func connectionClosed() { count.open.subtract(1, ordering: .relaxed) }
        func isAcceptingNewConnections() -> Bool { count.open.load(ordering: .relaxed) < count.limit }
    }

    var delegate: Delegate { Delegate(count: self) }

    /// Raises the soft limit on open files to what `limit` connections need (and the streams'
    /// and stores' own descriptors), up to the hard limit: at the usual 1,024, about a thousand
    /// held connections made the sidecar fail every accept, `/livez` included.
    static func raiseOpenFileLimit(for connections: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return }
        let wanted = rlim_t(connections + 256)
        guard limits.rlim_cur < wanted else { return }
        limits.rlim_cur = min(wanted, limits.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
    }
}
