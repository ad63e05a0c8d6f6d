import ChatCore
import NIOCore
import NIOHTTP1

/// Keeps an HTTP connection honest, on behalf of its `HTTPConnectionClock`: it closes a client that is too slow (408
/// for a request that does not arrive in time, a silent close between requests) and answers what the parser refuses
/// (431 for headers over the limits, 400 for the rest) instead of leaving the socket open.
///
/// It sits after the decoder and the upgrader, and sees request and response parts; its partner `HTTPByteWatch`, first in the pipeline, tells it when bytes
/// arrive before any of them parse. Both leave the pipeline when the connection becomes a WebSocket, whose session
/// keeps its own time.
final class HTTPGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// After an error answer, how long the client's remaining input is read and dropped before the socket closes:
    /// closing on unread input would reset the connection and could destroy the answer before the client reads it.
    static let lingerTime = TimeAmount.seconds(2)

    private var clock: HTTPConnectionClock
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var responseOpen = false
    /// The response under way ends the connection.
    private var closesAfterResponse = false
    /// A parser error in a request behind the one being answered: answered after it.
    private var pendingError: ChatError?
    /// Answering an error: input is dropped until the socket closes.
    private(set) var isLingering = false

    init(timeouts: HTTPTimeouts) {
        clock = HTTPConnectionClock(timeouts: timeouts, openedAt: .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        reschedule()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    // MARK: What happens

    /// Called by `HTTPByteWatch` for every read, before the decoder sees it.
    func bytesArrived() {
        clock.bytesArrived(at: .now())
        reschedule()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: clock.headReceived(at: .now())
        case .body(let bytes): clock.bodyReceived(bytes: bytes.readableBytes)
        case .end: clock.requestEnded()
        }
        reschedule()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code < 200:
            context.write(data, promise: promise)
        case .head(var head):
            responseOpen = true
            // Refused before its body is in (a 413, a 401): the rest of the body is not worth reading at the
            // client's pace, so the connection ends with this response. A success was answered by a handler that
            // took the body; its end may only not have been seen yet, and the connection stays.
            if case .body = clock.phase, clock.unanswered == 1, head.status.code >= 400 {
                closesAfterResponse = true
                head.headers.replaceOrAdd(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            } else {
                context.write(data, promise: promise)
            }
        case .body:
            context.write(data, promise: promise)
        case .end:
            responseOpen = false
            clock.responseEnded(at: .now())
            guard closesAfterResponse else {
                context.write(data, promise: promise)
                if let pendingError, clock.unanswered == 0 {
                    answerAndClose(pendingError)
                } else {
                    reschedule()
                }
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.write(data, promise: written)
            closeAfterLinger(context, once: written.futureResult)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clock.writabilityChanged(writable: context.channel.isWritable, at: .now())
        reschedule()
        context.fireChannelWritabilityChanged()
    }

    /// The decoder's errors are the client's, answered in order: between requests at once; in a request whose body
    /// the server is reading, by the server (its body fails; the connection ends after its answer); in a request
    /// that came behind one still being answered, after that answer.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let answer =
            switch parserError {
            case .headerOverflow:
                ChatError(.headersTooLarge, "the request's headers are larger or more than the server accepts")
            default:
                ChatError.invalid("malformed HTTP request (\(parserError))")
            }
        if clock.unanswered == 0 {
            answerAndClose(answer)
        } else if case .body = clock.phase {
            closesAfterResponse = true
            context.fireErrorCaught(error)
        } else {
            pendingError = answer
        }
    }

    // MARK: Deadlines

    private func reschedule() {
        guard let context, !isLingering else { return }
        guard let deadline = clock.deadline else { return }
        // A later deadline is noticed when the earlier timer fires; only an earlier one needs a new timer.
        if let scheduled = timerDeadline, scheduled <= deadline, timer != nil { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in self?.timerFired() }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard context != nil, !isLingering else { return }
        switch clock.expired(at: .now()) {
        case nil:
            reschedule()
        case .close:
            context?.close(promise: nil)
        case .requestTimeout:
            answerAndClose(ChatError(.requestTimeout, "the request did not arrive in time"))
        }
    }

    // MARK: Answering and closing

    /// Writes `error` as the JSON error response (unless a response is under way), then closes: output at once,
    /// input after the linger time.
    private func answerAndClose(_ error: ChatError) {
        guard let context, !isLingering else { return }
        // A response under way cannot be followed by another: the socket just closes (and the timer with it).
        guard !responseOpen else { return context.close(promise: nil) }
        let body = context.channel.allocator.buffer(string: ErrorResponse.json(error))
        let headers = HTTPHeaders([
            ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", String(body.readableBytes)),
            ("Connection", "close"),
        ])
        let status = HTTPResponseStatus(statusCode: error.code.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(.end(nil)), promise: written)
        closeAfterLinger(context, once: written.futureResult)
    }

    /// Closes the output once `written` is on the wire, and the socket after the linger time; input until then is
    /// read and dropped, so the client's close is clean.
    private func closeAfterLinger(_ context: ChannelHandlerContext, once written: EventLoopFuture<Void>) {
        isLingering = true
        timer?.cancel()
        let channel = context.channel
        context.flush()
        written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
        context.read()
    }
}

/// First in an HTTP connection's pipeline: tells its `HTTPGuard` that bytes arrived, and drops them once the guard
/// is answering an error.
final class HTTPByteWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let guardian: HTTPGuard

    init(guardian: HTTPGuard) {
        self.guardian = guardian
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !guardian.isLingering else { return }
        guardian.bytesArrived()
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if guardian.isLingering {
            context.read()
        } else {
            context.fireChannelReadComplete()
        }
    }
}
