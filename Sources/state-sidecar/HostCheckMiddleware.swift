import Hummingbird

/// On a loopback listener, answers only requests whose `Host` names this host (`localhost`, a
/// 127.x.x.x or `::1` literal): a web page a local browser loaded from elsewhere, whose name an
/// attacker re-points at 127.0.0.1 (DNS rebinding), would otherwise read the state and the
/// store's identity as if it were a local program. 421 otherwise; a request without `Host`
/// (HTTP/1.0, a local program) passes.
struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    /// More names to answer for (`--allow-host`: a reverse proxy in front that keeps the client's `Host`).
    var allowed: Set<String> = []

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, !Self.isLocal(host), !allowed.contains(Self.name(host).lowercased()) else {
            return try await next(request, context)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(
            status: .misdirectedRequest, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: "this sidecar listens on loopback and answers requests for localhost, 127.0.0.1 or [::1] only\n")))
    }

    /// Whether `host` (a `Host` value, with or without a port) names this host.
    static func isLocal(_ host: String) -> Bool {
        let name = self.name(host)
        return ListenAddress(name + ":0")?.isLoopback == true || ["localhost", "localhost."].contains(name.lowercased())
    }

    /// The host name of a `Host` value: without its port, an IPv6 literal without its brackets.
    static func name(_ host: String) -> String {
        var name = Substring(host)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return host }
            name = name[name.index(after: name.startIndex)..<close]
        } else if let colon = name.lastIndex(of: ":") {
            name = name[..<colon]
        }
        return String(name)
    }
}
