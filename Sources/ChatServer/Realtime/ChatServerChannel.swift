import ChatConfiguration
import ChatCore
import ChatRealtime
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import NIOWebSocket

/// Each accepted socket: NIO's HTTP/1 upgrader in front of Hummingbird. Ordinary requests go to Hummingbird's
/// HTTP pipeline; `GET /v1/ws` with an upgrade is checked against the per-IP limit and becomes a WebSocket whose
/// frames go to a plain channel handler of the gateway, so no Task lives on for the connection.
struct ChatServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case websocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, ChatError)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    static let path = "/v1/ws"

    let responder: HTTPChannelHandler.Responder
    let gateway: RealtimeGateway
    let http: ChatConfig.HTTP
    /// HTTPS and WSS: each connection starts its TLS with the context of the moment (a reload swaps it).
    let tls: ServerTLS?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // NIO keeps each socket's last receive buffer for the next read, at the size its allocator asked for:
            // start small (an idle WebSocket keeps 256 bytes, not NIO's default 2 KiB), double for a client that
            // fills it.
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65_536))
            let refusal = NIOLoopBoundBox<ChatError?>(nil, eventLoop: channel.eventLoop)
            let gateway = self.gateway
            let secure = tls != nil
            let guardian = HTTPGuard(timeouts: http.timeouts)
            let byteWatch = HTTPByteWatch(guardian: guardian)
            let slowClientHandlers = NIOLoopBound([guardian, byteWatch] as [any RemovableChannelHandler], eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: gateway.limits.maxFrameBytes,
                // The connection handler answers the decoder's errors itself: one handler less on every socket.
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                    guard path == Self.path else {
                        refusal.value = ChatError.notFound("WebSocket endpoint \(path); use \(Self.path)")
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let ip = channel.remoteAddress?.ipAddress ?? "unknown"
                    switch gateway.admit(ip: ip) {
                    case .admitted:
                        // Counted until the socket closes, however far the upgrade gets.
                        channel.closeFuture.whenComplete { _ in gateway.release(ip: ip) }
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    case .tooManyFromAddress:
                        refusal.value = ChatError(
                            .rateLimited, "too many WebSocket connections from this address", retryAfter: 10)
                    case .shuttingDown:
                        refusal.value = ChatError(.unavailable, "the server is shutting down; reconnect later")
                    }
                    return channel.eventLoop.makeSucceededFuture(nil)
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        // The session keeps the WebSocket's time from here (hello timeout, heartbeats).
                        for handler in slowClientHandlers.value {
                            channel.pipeline.syncOperations.removeHandler(handler, promise: nil)
                        }
                        try channel.syncOptions?.setOption(
                            ChannelOptions.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
                        try channel.pipeline.syncOperations.addHandler(
                            gateway.makeHandler(eventLoop: channel.eventLoop))
                        return .websocket
                    }
                })
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                        if let error = refusal.value { return .refused(http, error) }
                        return .http(http)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(
                upgradeConfiguration: upgrade)
            // Hummingbird answers pipelined requests in order itself; HTTPGuard counts the requests in flight.
            configuration.enablePipelining = false
            // HTTPGuard answers parser errors (with 431 where 400 would hide the cause).
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            configuration.decoderConfiguration.maxHeaderFieldSize = http.maxHeaderBytes
            configuration.decoderConfiguration.maxHeaderListSize = http.maxHeaderBytes
            configuration.decoderConfiguration.maxHeaderFieldCount = http.maxHeaderCount
            let pipeline = channel.pipeline.syncOperations
            let result = try pipeline.configureUpgradableHTTPServerPipeline(configuration: configuration)
            // After the upgrader, not before it: when it upgrades, it removes the decoder, which hands the bytes it
            // holds (a client's first frame, sent early) to the next handler as they are, and the upgrader in
            // between keeps them for the WebSocket; HTTPGuard leaves the pipeline before they are passed on.
            let upgradeHandler = try pipeline.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
            try pipeline.addHandler(guardian, position: .after(upgradeHandler))
            // First, or right behind TLS: it sees every byte of the requests as it arrives.
            try pipeline.addHandler(byteWatch, position: .first)
            if let tls {
                try pipeline.addHandler(NIOSSLServerHandler(context: tls.context), position: .first)
            }
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// Serves HTTP, answers a refused upgrade, or — for a WebSocket — returns at once: the connection lives on in
    /// its channel handler, and the gateway closes it at shutdown.
    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let error):
                try await refuse(http, error)
            case .websocket:
                break
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before its first request was complete")
        } catch {
            logger.debug("connection failed", metadata: ["error": "\(error)"])
        }
    }

    /// A refused upgrade gets the usual JSON error and the connection closes.
    private func refuse(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, _ error: ChatError) async throws {
        try await http.executeThenClose { _, outbound in
            let body = ByteBuffer(string: ErrorResponse.json(error))
            var fields: HTTPFields = [
                .contentType: "application/json; charset=utf-8", .connection: "close",
                .contentLength: String(body.readableBytes),
            ]
            if let retryAfter = error.retryAfter { fields[.retryAfter] = String(retryAfter) }
            try await outbound.write(
                .head(HTTPResponse(status: .init(code: error.code.status), headerFields: fields)))
            try await outbound.write(.body(body))
            try await outbound.write(.end(nil))
        }
    }
}
