#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `HOST:PORT` to listen on (`127.0.0.1:9464`, `[::1]:9464`).
struct ListenAddress: Sendable, Equatable {
    var host: String
    var port: Int

    init?(_ text: String) {
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
        if host == "localhost" { return true }
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 { return UInt32(bigEndian: ipv4.s_addr) >> 24 == 127 }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, host, &ipv6) == 1 {
            return withUnsafeBytes(of: &ipv6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}
