import Foundation
import Hummingbird
import StateCoordinator
import StateDocuments
import Synchronization

/// The sidecar's HTTP paths. None writes.
enum SidecarRoutes {
    /// The router: the access checks (a host check on tokenless loopback, else the bearer
    /// token), then ``routes(monitors:metrics:maxLag:streams:connections:)``.
    static func router(
        monitors: [StoreMonitor], metrics: SidecarMetrics, token: [UInt8]?, maxLag: UInt64, streams: StreamCount,
        connections: ConnectionCount? = nil, loopbackOnly: Bool = false, allowedHosts: Set<String> = []
    ) -> Router<SidecarRequestContext> {
        let router = Router(context: SidecarRequestContext.self)
        // Behind a token a rebound page has no credentials to send: the check is for tokenless loopback.
        if loopbackOnly, token == nil { router.add(middleware: HostCheckMiddleware(allowed: allowedHosts)) }
        if let token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        router.addRoutes(routes(monitors: monitors, metrics: metrics, maxLag: maxLag, streams: streams, connections: connections))
        return router
    }

    /// The paths themselves, as one collection (tested in-process, behind no access check).
    static func routes(
        monitors: [StoreMonitor], metrics: SidecarMetrics, maxLag: UInt64, streams: StreamCount, connections: ConnectionCount? = nil
    ) -> RouteCollection<SidecarRequestContext> {
        let router = RouteCollection(context: SidecarRequestContext.self)
        let pick: @Sendable (Request) -> Result<StoreMonitor, HTTPError> = { request in
            guard let name = request.uri.queryParameters["store"].map(String.init) else {
                return monitors.count == 1 ? .success(monitors[0]) : .failure(HTTPError(.badRequest, message: "several stores: name one with ?store=NAME (\(monitors.map(\.name).joined(separator: ", "))).\n"))
            }
            guard let monitor = monitors.first(where: { $0.name == name }) else {
                return .failure(HTTPError(.notFound, message: "no store named '\(name.prefix(64))' here.\n"))
            }
            return .success(monitor)
        }
        router.get("/livez") { _, _ in PlainText("ok\n") }
        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.contentSecurityPolicy] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: LivePage.html)))
        }
        router.get("/readers") { request, _ in
            let monitor = try pick(request).get()
            let current = monitor.reader.current
            let listing = try await monitor.store.readerListing()
            let history = (try? await monitor.store.history()) ?? []
            // ?all: the whole listing (readers not counted, invalid entries); else the counted readers.
            let document = request.uri.queryParameters["all"] != nil
                ? ReaderDocument.json(listing, current: current, history: history)
                : ReaderDocument.json(listing.readers, current: current, history: history)
            return JSONDocument(value: document)
        }
        router.get("/recent") { request, _ in
            let monitor = try pick(request).get()
            let history = (try? await monitor.store.history()) ?? []
            return JSONDocument(value: monitor.recent.json(history: history), layout: .compact)
        }
        router.get("/readyz") { request, _ in
            var lines: [String] = []
            var ready = true
            for monitor in monitors {
                for (check, failure) in await Readiness.checks(monitor, maxLag: maxLag) {
                    if failure != nil { ready = false }
                    lines.append(failure.map { "[-]\(check) failed: \(TerminalText.safe($0))" } ?? "[+]\(check) ok")
                }
            }
            let verbose = request.uri.queryParameters["verbose"] != nil
            let text = verbose ? lines.joined(separator: "\n") + "\n" + (ready ? "readyz check passed\n" : "readyz check failed\n") : (ready ? "ok\n" : "not ready\n")
            return PlainText(ready ? .ok : .serviceUnavailable, text)
        }
        router.get("/status") { request, _ in
            let monitor = try pick(request).get()
            return JSONDocument(value: await monitor.observe().statusJSON(store: monitor.name))
        }
        router.get("/state") { request, context in
            let monitor = try pick(request).get()
            let snapshot = monitor.reader.current
            let tag = "\"\(snapshot.version)\""
            if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == tag }) == true {
                var headers = HTTPFields()
                headers[.eTag] = tag
                return Response(status: .notModified, headers: headers)
            }
            return try JSONDocument(value: snapshot.state, entityTag: tag).response(from: request, context: context)
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: await metrics.render(monitors, streams: streams, connections: connections))))
        }
        router.get("/events") { request, context in
            await EventStream(feed: try pick(request).get().feed, streams: streams).response(request, connection: context.channel)
        }
        return router
    }

    /// A plain-text response (see ``PlainText``).
    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        PlainText(status, text).response
    }
}

/// The checks of `/readyz`, each with nil (ok) or why it failed.
enum Readiness {
    static func checks(_ monitor: StoreMonitor, maxLag: UInt64) async -> [(String, String?)] {
        let prefix = monitor.name + "/"
        var checks: [(String, String?)] = []
        do {
            let current = try await monitor.store.read()
            checks.append((prefix + "verified", monitor.reader.problem.map(\.message)))
            _ = current
        } catch {
            checks.append((prefix + "verified", error.message))
        }
        checks.append((prefix + "watch", monitor.watchProblem()))
        let readers = (try? await monitor.store.readers()) ?? []
        let current = monitor.reader.current
        let behind = readers.filter { (ReaderDocument.lagVersions($0, current) ?? .max) > maxLag }
        checks.append(
            (prefix + "readers", behind.isEmpty ? nil : behind.map { "\(TerminalText.safe($0.qualifiedLabel)) (pid \($0.processID)) lags more than \(maxLag) versions" }.joined(separator: "; ")))
        return checks
    }
}
