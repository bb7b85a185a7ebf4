import Hummingbird
import NIOCore

/// The request context of the sidecar's routes: Hummingbird's basic one, plus the connection's
/// channel, so that an event stream ends as soon as its client's connection closes (a client
/// that vanished would otherwise hold its stream, and a place under `--max-streams`, until the
/// stream next writes: up to the 15 s keep-alive).
struct SidecarRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's connection.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
