/// One member's client address, parsed from `http://HOST:PORT`, `https://HOST:PORT`, or
/// `HOST:PORT` (plain text).
struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    var host: String
    var port: Int
    /// Whether the member speaks TLS (`https`).
    var secure: Bool

    init(parsing text: String) throws(StateStoreError) {
        var rest = Substring(text)
        if rest.hasPrefix("https://") {
            secure = true
            rest = rest.dropFirst("https://".count)
        } else if rest.hasPrefix("http://") {
            secure = false
            rest = rest.dropFirst("http://".count)
        } else if rest.contains("://") {
            throw Self.invalid(text, "its scheme is neither http nor https")
        } else {
            secure = false
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("@"), !rest.contains("?") else { throw Self.invalid(text, "a client URL has no path, user or query") }
        let hostPart: Substring
        let portPart: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw Self.invalid(text, "its IPv6 address has no closing bracket") }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw Self.invalid(text, "it names no port") }
            portPart = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw Self.invalid(text, "it names no port") }
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw Self.invalid(text, "it names no host") }
        guard let port = Int(portPart), (1...65535).contains(port) else { throw Self.invalid(text, "its port is not a number from 1 to 65535") }
        host = String(hostPart)
        self.port = port
    }

    var description: String { "\(secure ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    private static func invalid(_ text: String, _ why: String) -> StateStoreError {
        StateStoreError(
            .invalidArgument, "\"\(text)\" is not an etcd client URL: \(why).",
            hint: "Give each member as http://HOST:PORT or https://HOST:PORT (etcd's --advertise-client-urls), separated by commas.")
    }
}
