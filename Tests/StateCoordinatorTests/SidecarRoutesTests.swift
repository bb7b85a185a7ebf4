import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@testable import StateCoordinator
@testable import state_sidecar

/// The sidecar's routes in-process (HummingbirdTesting's router client: no socket, no process),
/// beside the end-to-end tests that run the built sidecar.
@Suite("state-sidecar routes in-process")
struct SidecarRoutesTests {
    let dir = TemporaryDirectory()

    /// An application serving the routes of one store, at version 1 with `halt` false.
    func application() async throws -> (some ApplicationProtocol, StoreMonitor) {
        let store = try await StateStore<JSONValue>.create(directory: dir.path, initial: ["halt": false])
        try await store.update { try $0.set(true, forKey: "halt") }
        try await store.update { try $0.set(false, forKey: "halt") }
        let registry = PrometheusCollectorRegistry()
        let monitor = try await StoreMonitor.open(directory: dir.path, name: "state", registry: registry)
        _ = try await within(.seconds(10)) { try await monitor.reader.wait(until: { $0.version == 2 }) }
        let router = Router(context: SidecarRequestContext.self)
        router.addRoutes(
            SidecarRoutes.routes(monitors: [monitor], metrics: SidecarMetrics(registry: registry), maxLag: 10, streams: StreamCount(limit: 4)))
        return (Application(router: router), monitor)
    }

    @Test func theStateHasItsVersionAsETagAndAnswers304ToIt() async throws {
        let (app, monitor) = try await application()
        defer { monitor.reader.close() }
        try await app.test(.router) { client in
            try await client.execute(uri: "/state", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.eTag] == "\"2\"")
                #expect((try? JSONValue(parsing: Array(response.body.readableBytesView)))?["halt"] == false)
            }
            try await client.execute(uri: "/state", method: .get, headers: [.ifNoneMatch: "\"2\""]) { response in
                #expect(response.status == .notModified)
            }
        }
    }

    @Test func statusReadersAndReadinessAnswerAboutTheStore() async throws {
        let (app, monitor) = try await application()
        defer { monitor.reader.close() }
        try await app.test(.router) { client in
            try await client.execute(uri: "/livez", method: .get) { #expect($0.status == .ok && String(buffer: $0.body) == "ok\n") }
            try await client.execute(uri: "/status", method: .get) { response in
                #expect(response.status == .ok)
                #expect((try? JSONValue(parsing: Array(response.body.readableBytesView)))?["version"] == 2)
            }
            try await client.execute(uri: "/readers", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
            }
            try await client.execute(uri: "/readyz?verbose", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("[+]state/verified ok"), "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("statecoord_"))
            }
        }
    }

    @Test func anUnknownStoreIsNotFoundAndNamesNoPath() async throws {
        let (app, monitor) = try await application()
        defer { monitor.reader.close() }
        try await app.test(.router) { client in
            try await client.execute(uri: "/state?store=nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(!String(buffer: response.body).contains(dir.path))
            }
        }
    }
}
