#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `HOST:PORT` to listen on (`127.0.0.1:9464`, `[::1]:9464`), or `unix:PATH`: a Unix socket,
/// given the permissions of the store it serves.
struct ListenAddress: Sendable, Equatable {
    var host: String
    var port: Int
    /// The socket's path, for `unix:PATH` (then `host` is empty and `port` 0).
    var unixPath: String?

    init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            // sun_path holds 107 bytes and a NUL.
            guard !path.isEmpty, path.utf8.count <= 107, !path.utf8.contains(0) else { return nil }
            host = ""
            port = 0
            unixPath = path
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    /// Whether only this host can connect: an IPv4 literal in 127.0.0.0/8, the IPv6 literal ::1,
    /// or `localhost`. Any other name counts as reachable from elsewhere (`127.example.com` is a
    /// name, not a loopback address).
    var isLoopback: Bool {
        if unixPath != nil { return false }
        if host == "localhost" { return true }
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 { return UInt32(bigEndian: ipv4.s_addr) >> 24 == 127 }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, host, &ipv6) == 1 {
            return withUnsafeBytes(of: &ipv6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }

    /// How the address is named to an operator.
    var description: String { unixPath.map { "unix:" + $0 } ?? (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") }
}
