#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the library asks about its own process and host.
enum ProcessIdentity {
    /// This process's id (`getpid`).
    static var id: Int32 { getpid() }

    /// Whether the process runs as root (`geteuid() == 0`): a root writer keeps a replaced file's
    /// owner and group.
    static var isRoot: Bool { geteuid() == 0 }

    /// The effective user (`geteuid`): the owner of every file this process creates.
    static var effectiveUser: UInt32 { UInt32(geteuid()) }

    /// The host name (`gethostname`), read once.
    static let hostName: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
    }()
}
