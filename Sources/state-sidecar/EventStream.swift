import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import StateCoordinator
import Synchronization

/// How many event streams are open, against the limit.
final class StreamCount: Sendable {
    let open = Atomic(0)
    let limit: Int
    /// The most streams one client (``StreamClient``) may hold.
    let perClient: Int
    private let byClient = Mutex<[String: Int]>([:])

    init(limit: Int, perClient: Int? = nil) {
        self.limit = limit
        self.perClient = min(limit, perClient ?? limit)
    }

    /// Why a stream was refused.
    enum Refusal: Error {
        case full
        case clientFull
    }

    /// A place for one more stream of `client`, or why not.
    func admit(client: String = "") -> Result<StreamSlot, Refusal> {
        // The whole first: a full sidecar says so (503), whoever asks.
        guard open.add(1, ordering: .relaxed).newValue <= limit else {
            open.subtract(1, ordering: .relaxed)
            return .failure(.full)
        }
        let admitted = byClient.withLock { counts -> Bool in
            guard counts[client, default: 0] < perClient else { return false }
            counts[client, default: 0] += 1
            return true
        }
        guard admitted else {
            open.subtract(1, ordering: .relaxed)
            return .failure(.clientFull)
        }
        return .success(StreamSlot(self, client: client))
    }

    fileprivate func release(_ client: String) {
        byClient.withLock { counts in
            counts[client, default: 1] -= 1
            if counts[client] == 0 { counts[client] = nil }
        }
    }
}

/// One admitted stream's place, given back when the response is released, whatever happened
/// to it: also when the client left before the response head could be written (then the body,
/// which holds the slot, never runs).
final class StreamSlot: Sendable {
    private let count: StreamCount
    private let client: String
    fileprivate init(_ count: StreamCount, client: String) {
        self.count = count
        self.client = client
    }
    deinit {
        count.open.subtract(1, ordering: .relaxed)
        count.release(client)
    }
}

/// `GET /events`: Server-Sent Events, one `version` event per version (`id:` the version), a
/// `gap` event for versions the client will not get, a `reset` event when the store was
/// re-created, keep-alive comments every 15 s. A client resuming with `Last-Event-ID` gets the
/// versions after it from history, and a gap where history does not reach back. The versions
/// come from the store's ``EventFeed``; a slow client gets the newest version and a gap, never
/// an unbounded buffer.
struct EventStream: Sendable {
    let feed: EventFeed
    let streams: StreamCount

    /// - Parameter connection: the client's channel: its closing ends the stream at once.
    func response(_ request: Request, connection: any Channel) async -> Response {
        var lastID: UInt64?
        if let header = request.headers.first(where: { $0.name.canonicalName == "last-event-id" })?.value {
            guard let value = UInt64(header.trimmingCharacters(in: CharacterSet.whitespaces)) else {
                return SidecarRoutes.plain(.badRequest, "Last-Event-ID must be a version number, not '\(header.prefix(40))'.\n")
            }
            lastID = value
        }
        let client = await StreamClient.key(of: connection)
        let slot: StreamSlot
        switch streams.admit(client: client) {
        case .success(let admitted):
            slot = admitted
        case .failure(.clientFull):
            var response = SidecarRoutes.plain(
                .tooManyRequests, "too many event streams are open for this client (\(client); limit \(streams.perClient)); close one first.\n")
            response.headers[.retryAfter] = "5"
            return response
        case .failure(.full):
            var response = SidecarRoutes.plain(.serviceUnavailable, "too many event streams are open (limit \(streams.limit)); retry later.\n")
            response.headers[.retryAfter] = "5"
            return response
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let feed = feed, resume = lastID
        let body = ResponseBody { writer in
            defer { withExtendedLifetime(slot) {} }
            let (mailbox, current) = feed.subscribe()
            var newest = current
            defer { feed.unsubscribe(mailbox) }
            Self.endWhenClientLeaves(connection, mailbox: mailbox)
            var cursor = StreamCursor(resumingAfter: resume)
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            // A graceful shutdown (SIGTERM) ends the stream, so that the server can stop.
            try await withGracefulShutdownHandler {
                if let first = newest {
                    newest = nil  // not held for the stream's life
                    try await cursor.write(first, from: feed.store, into: &writer)
                }
                while let delivery = await mailbox.next() {
                    if delivery.keepAlive { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                    if let version = delivery.version { try await cursor.write(version, from: feed.store, into: &writer) }
                }
            } onGracefulShutdown: {
                mailbox.close()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

extension EventStream {
    /// How long a write may stay unacknowledged before the kernel drops the connection: a client
    /// that vanished (power loss, a cut network) is found within this after the next write (a
    /// keep-alive at the latest), not after TCP's own retries (about 15 minutes).
    static let unacknowledgedLimit = 30_000  // milliseconds

    /// Ends the stream as soon as its connection closes: a client that closes or resets at once,
    /// one that vanished after `unacknowledgedLimit` of unacknowledged writes. Hummingbird lets
    /// a client half-close (its request sent, still reading); a stream client never writes again,
    /// so its FIN closes the connection here.
    static func endWhenClientLeaves(_ connection: any Channel, mailbox: StreamMailbox) {
        _ = connection.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
        _ = connection.setOption(.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_USER_TIMEOUT))), value: unacknowledgedLimit)
        connection.closeFuture.whenComplete { _ in mailbox.close() }
    }
}

/// Where one stream is: the last version it wrote (of which store identity), and whether the
/// versions a resuming client missed are still to be replayed.
struct StreamCursor {
    private var last: UInt64?
    private var storeID: String?
    private var replayPending: Bool

    init(resumingAfter lastEventID: UInt64?) {
        last = lastEventID
        replayPending = lastEventID != nil
    }

    /// Writes `version` unless the stream is past it, with what must come first: for a resuming
    /// client the versions it missed (from history, a gap for the rest); a `reset` when the store
    /// identity changed or the client's last id is beyond this store's versions; a gap when
    /// versions were skipped.
    mutating func write(
        _ version: EncodedVersion, from store: ReadOnlyStateStore<JSONValue>, into writer: inout any ResponseBodyWriter
    ) async throws {
        if let storeID, storeID != version.storeID {
            try await writer.write(EncodedVersion.reset(from: storeID, to: version.storeID))
            last = nil
        } else if replayPending, let last, last > version.version {
            // The client followed another store (re-created since) or a bigger one: start afresh.
            try await writer.write(EncodedVersion.reset(from: nil, to: version.storeID))
            self.last = nil
        }
        storeID = version.storeID
        if replayPending {
            replayPending = false
            if let last, version.version > last, version.version - last > 1 {
                try await replay(after: last, before: version, from: store, into: &writer)
            }
        }
        if let last, version.version <= last { return }
        if let last, version.version - last > 1 { try await writer.write(EncodedVersion.gap((last + 1)...(version.version - 1))) }
        try await writer.write(version.event)
        last = version.version
    }

    /// The kept versions between `after` and `next` (exclusive), read from history, with a gap
    /// for each run that is no longer kept (or belongs to another store identity).
    private mutating func replay(
        after: UInt64, before next: EncodedVersion, from store: ReadOnlyStateStore<JSONValue>, into writer: inout any ResponseBodyWriter
    ) async throws {
        let kept = ((try? await store.history()) ?? []).map(\.version).filter { $0 > after && $0 < next.version }.sorted()
        for version in kept {
            guard let snapshot = try? await store.snapshot(atVersion: version), snapshot.storeID == next.storeID else { continue }
            let encoded = EncodedVersion(snapshot, arrived: false)  // read back, not seen arriving
            if let last, encoded.version - last > 1 { try await writer.write(EncodedVersion.gap((last + 1)...(encoded.version - 1))) }
            try await writer.write(encoded.event)
            last = encoded.version
        }
    }
}
