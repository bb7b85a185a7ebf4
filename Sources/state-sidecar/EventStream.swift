import Foundation
import Hummingbird
import ServiceLifecycle
import StateCoordinator
import Synchronization

/// `GET /events`: Server-Sent Events, one `version` event per version (`id:` the version), a
/// `gap` event for versions the client will not get, keep-alive comments every 15 s. A client
/// resuming with `Last-Event-ID` gets the versions after it from history, or a gap where history
/// does not reach back. A slow client gets the newest version and a gap, never an unbounded
/// buffer: the live part of each stream coalesces.
/// How many event streams are open, against the limit.
final class StreamCount: Sendable {
    let open = Atomic(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }
}

struct EventStream: Sendable {
    let monitor: StoreMonitor
    let streams: StreamCount

    static let keepAlive: Duration = .seconds(15)

    func response(_ request: Request) -> Response {
        var lastID: UInt64?
        if let header = request.headers.first(where: { $0.name.canonicalName == "last-event-id" })?.value {
            guard let value = UInt64(header.trimmingCharacters(in: CharacterSet.whitespaces)) else {
                return SidecarRoutes.plain(.badRequest, "Last-Event-ID must be a version number, not '\(header.prefix(40))'.\n")
            }
            lastID = value
        }
        let streams = streams
        guard streams.open.add(1, ordering: .relaxed).newValue <= streams.limit else {
            streams.open.subtract(1, ordering: .relaxed)
            var response = SidecarRoutes.plain(.serviceUnavailable, "too many event streams are open (limit \(streams.limit)); retry later.\n")
            response.headers[.retryAfter] = "5"
            return response
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let monitor = monitor, resume = lastID
        let body = ResponseBody { writer in
            defer { streams.open.subtract(1, ordering: .relaxed) }
            try await Self.stream(monitor, after: resume, into: &writer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Replays what history holds after `after`, then follows live (coalescing).
    private static func stream(_ monitor: StoreMonitor, after: UInt64?, into writer: inout any ResponseBodyWriter) async throws {
        let (lines, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let feeder = Task {
            var last = after
            if let after {
                // Replayed from history first (every kept version after it, a gap for the rest).
                for await event in monitor.store.watch(.after(after)) {
                    guard case .snapshot = event else {
                        if case .gap(let missing) = event { continuation.yield(gap(missing)) }
                        continue
                    }
                    if case .snapshot(let snapshot) = event {
                        continuation.yield(version(snapshot))
                        last = snapshot.version
                    }
                    if let newest = try? await monitor.store.read().version, let last, last >= newest { break }
                }
            }
            for await snapshot in monitor.store.snapshots(.latest) {
                if let last, snapshot.version <= last { continue }
                if let last, snapshot.version > last + 1 { continuation.yield(gap((last + 1)...(snapshot.version - 1))) }
                continuation.yield(version(snapshot))
                last = snapshot.version
            }
            continuation.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: keepAlive)
                continuation.yield(": keep-alive\n\n")
            }
        }
        defer {
            feeder.cancel()
            ticker.cancel()
        }
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        // A graceful shutdown (SIGTERM) ends the stream, so that the server can stop.
        try await withGracefulShutdownHandler {
            for await line in lines {
                try await writer.write(ByteBuffer(string: line))
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    static func version(_ snapshot: StateSnapshot<JSONValue>) -> String {
        let data: JSONValue = [
            "version": .int(Int64(snapshot.version)), "committedAt": .string(snapshot.committedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "writer": ["pid": .int(Int64(snapshot.writer.pid)), "host": .string(snapshot.writer.host), "label": .string(snapshot.writer.label)],
            "state": snapshot.state,
        ]
        return "id: \(snapshot.version)\nevent: version\ndata: \(data.compactJSON)\n\n"
    }

    static func gap(_ missing: ClosedRange<UInt64>) -> String {
        "event: gap\ndata: {\"from\":\(missing.lowerBound),\"to\":\(missing.upperBound)}\n\n"
    }
}
