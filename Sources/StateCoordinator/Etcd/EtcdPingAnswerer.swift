import NIOCore
import NIOHTTP2

/// Answers etcd's HTTP/2 PING frames itself, ahead of swift-nio-http2, which never sees them.
///
/// Why: etcd's gRPC server (grpc-go) estimates the bandwidth-delay product by sending a PING
/// after it receives data, so a client making small requests one after another receives about
/// one PING per request. swift-nio-http2 treats more than 200 control frames in 30 seconds as an
/// attack and closes the connection (its `controlFrameRateLimit`, which grpc-swift-nio-transport
/// does not expose): a writer committing a few times a second lost its connection every 100
/// commits, each time leaving a transaction's outcome to be found out. This handler reads the
/// frame boundaries of the decrypted byte stream, acknowledges each PING (echoing its 8 bytes,
/// as RFC 9113 §6.7 requires) and passes every other frame on unchanged.
final class EtcdPingAnswerer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let frameHeaderLength = 9
    private static let pingType: UInt8 = 0x6
    private static let ackFlag: UInt8 = 0x1
    private static let pingPayloadLength = 8

    /// Bytes of a frame not yet complete.
    private var pending: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var held = pending {
            held.writeBuffer(&incoming)
            incoming = held
            pending = nil
        }
        var forward = context.channel.allocator.buffer(capacity: incoming.readableBytes)
        var acknowledged = false
        while incoming.readableBytes >= Self.frameHeaderLength {
            let start = incoming.readerIndex
            guard let high = incoming.getInteger(at: start, as: UInt8.self), let low = incoming.getInteger(at: start + 1, as: UInt16.self),
                let type = incoming.getInteger(at: start + 3, as: UInt8.self), let flags = incoming.getInteger(at: start + 4, as: UInt8.self)
            else { break }
            let length = Int(high) << 16 | Int(low)
            let frameLength = Self.frameHeaderLength + length
            guard incoming.readableBytes >= frameLength, var frame = incoming.readSlice(length: frameLength) else { break }
            if type == Self.pingType, flags & Self.ackFlag == 0, length == Self.pingPayloadLength {
                // PING ACK: same payload, ACK flag, stream 0.
                var ack = context.channel.allocator.buffer(capacity: frameLength)
                ack.writeInteger(UInt8(0))
                ack.writeInteger(UInt16(Self.pingPayloadLength))
                ack.writeInteger(Self.pingType)
                ack.writeInteger(Self.ackFlag)
                ack.writeInteger(UInt32(0))
                frame.moveReaderIndex(forwardBy: Self.frameHeaderLength)
                ack.writeBuffer(&frame)
                context.write(wrapOutboundOut(ack), promise: nil)
                acknowledged = true
            } else {
                forward.writeBuffer(&frame)
            }
        }
        if incoming.readableBytes > 0 { pending = incoming }
        if acknowledged { context.flush() }
        if forward.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(forward)) }
    }

    /// Adds the answerer in front of the connection's HTTP/2 handler (after TLS, when there is one).
    static func install(on channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let http2 = try channel.pipeline.syncOperations.context(handlerType: NIOHTTP2Handler.self)
            try channel.pipeline.syncOperations.addHandler(EtcdPingAnswerer(), position: .before(http2.handler))
        }
    }
}
