import ChatCore
import NIOCore
import NIOWebSocket

/// One upgraded WebSocket: a plain NIO channel handler, not a Swift Task. It feeds its `Session` what arrives,
/// performs what the session decides, and writes frames through a bounded outbound queue.
///
/// Work that must wait (token checks, store reads and writes) runs on the shared services and comes back to this
/// handler on its event loop (`eventLoop.execute`); nothing waits per connection.
final class WebSocketConnection: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every mutable property is touched only on `eventLoop`: NIO calls the handler there, the hub
    // reaches it with `eventLoop.execute`, `loop` runs there, and async answers come back the same way. Other threads
    // read only the immutable `eventLoop` and `loop`.
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let eventLoop: any EventLoop
    /// The other connections of `eventLoop`: the sweeper's timer and the per-tick flush.
    let loop: EventLoopConnections
    private let gateway: RealtimeGateway
    private var context: ChannelHandlerContext?
    private var session: Session
    /// A fragmented text message being reassembled.
    private var fragments: ByteBuffer?
    /// Frames waiting while the channel is not writable; nil (no storage) while it is.
    private var backlog: CircularBuffer<Outbound>?
    private var backlogBytes = 0
    private var needsFlush = false
    /// Users whose presence this connection watches.
    private var watching: [UserID] = []
    private var attached = false
    /// The next replay page waits for the channel to drain.
    private var pageWaitsForWritability = false

    private struct Outbound {
        var frame: ByteBuffer
        var ephemeral: Bool
    }

    init(gateway: RealtimeGateway, eventLoop: any EventLoop) {
        self.gateway = gateway
        self.eventLoop = eventLoop
        loop = gateway.connections(on: eventLoop)
        session = Session(limits: gateway.limits, now: .now())
    }

    private var hub: Hub { gateway.hub }
    private var backend: any RealtimeBackend { gateway.backend }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        gateway.opened(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        forget()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        forget()
        context.fireChannelInactive()
    }

    /// Leaves the hub and the gateway's counts, once.
    private func forget() {
        guard !forgotten else { return }
        forgotten = true
        _ = session.startClosing(now: .now())
        backlog = nil
        leaveHub()
        gateway.closed(self)
    }

    /// Takes this connection (and its presence subscriptions) out of the hub, once.
    private func leaveHub() {
        guard attached, let user = session.identity?.userId else { return }
        attached = false
        hub.detach(self, user: user, watching: watching)
        watching = []
    }

    private var forgotten = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        session.heard(at: .now())
        switch frame.opcode {
        case .text where frame.fin && fragments == nil:
            text(frame.unmaskedData)
        case .text:
            guard fragments == nil else { return close(CloseReason(code: 1002, reason: "unfinished fragmented message")) }
            fragments = frame.unmaskedData
        case .continuation:
            guard var buffer = fragments else { return close(CloseReason(code: 1002, reason: "unexpected continuation")) }
            var piece = frame.unmaskedData
            guard buffer.readableBytes + piece.readableBytes <= gateway.limits.maxFrameBytes else {
                return close(.tooLarge)
            }
            buffer.writeBuffer(&piece)
            if frame.fin {
                fragments = nil
                text(buffer)
            } else {
                fragments = buffer
            }
        case .binary:
            close(.binaryFrame)
        case .ping:
            // Only the latest ping needs an answer (RFC 6455 5.5.3): a peer that pings without reading gets none
            // queued.
            if context.channel.isWritable, session.phase != .closing {
                write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
            }
        case .pong:
            break
        case .connectionClose:
            close(.normal)
        default:
            close(CloseReason(code: 1002, reason: "unknown opcode"))
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard context.channel.isWritable else { return }
        drainBacklog()
        if pageWaitsForWritability {
            pageWaitsForWritability = false
            readPage()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            close(.goingAway)
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // Hummingbird allows half-closed sockets; a client that stopped sending is gone.
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The frame decoder's errors get their close codes (a frame over the limit 1009, a malformed one 1002);
    /// anything else closes the socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength: close(.tooLarge)
        case .fragmentedControlFrame, .multiByteControlFrameLength: close(.protocolError)
        default:
            gateway.logger.debug("websocket error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: Frames from the client

    private func text(_ buffer: ByteBuffer) {
        if session.phase != .awaitingHello, let user = session.identity?.userId {
            switch session.admit(at: .now(), limits: gateway.limits) {
            case .admit:
                if !hub.allowFrame(user: user, now: .now()) {
                    if case .close(let reason) = session.refused(limits: gateway.limits) { return close(reason) }
                    return refuseFrame(buffer)
                }
            case .refuse:
                return refuseFrame(buffer)
            case .close(let reason):
                return close(reason)
            }
        }
        switch ClientFrame.parse(buffer.readableBytesView) {
        case .success(let frame): perform(session.received(frame))
        case .failure(let error): perform(session.malformed(error))
        }
    }

    private func refuseFrame(_ buffer: ByteBuffer) {
        let id: FrameID? =
            switch ClientFrame.parse(buffer.readableBytesView) {
            case .success(let frame): frame.id
            case .failure(let error): error.id
            }
        send(
            ServerFrame.reply(
                id: id, error: ChatError(.rateLimited, "too many frames; slow down", retryAfter: 1)))
    }

    private func perform(_ action: Session.Action) {
        switch action {
        case .none:
            break
        case .send(let frame):
            send(frame)
        case .close(let reason):
            close(reason)
        case .authenticate(let token, let id, let resumeFrom):
            authenticate(token: token, id: id, resumeFrom: resumeFrom)
        case .reauthenticate(let token, let id):
            later({ [backend] in try await backend.authenticate(token: token) }) { connection, result in
                connection.reauthenticated(result, id: id)
            }
        case .perform(let command, let id):
            guard let user = session.identity?.userId else { return }
            let connection = self
            backend.perform(command, as: user) { result in
                connection.answer(result) { connection, result in
                    switch result {
                    case .success(let answer):
                        connection.send(ServerFrame.reply(id: id, status: answer.status, result: answer.json))
                    case .failure(let error):
                        connection.send(ServerFrame.reply(id: id, error: error))
                    }
                }
            }
        case .typing(let conversation, let active, let id):
            guard let user = session.identity?.userId else { return }
            if hub.typing(user: user, conversation: conversation, active: active, now: Clock.nowMillis()) {
                if id != nil { send(ServerFrame.reply(id: id, status: 200, result: "{}")) }
            } else {
                send(ServerFrame.reply(id: id, error: ChatError.notFound("conversation \(conversation)")))
            }
        case .watch(let users, let id):
            guard let viewer = session.identity?.userId else { return }
            later({ [backend] in try await backend.presenceVisible(users, viewer: viewer) }) { connection, result in
                switch result {
                case .success(let visible):
                    guard connection.session.phase != .closing else { return }
                    let states = connection.hub.watch(connection, visible: visible)
                    for state in states where !connection.watching.contains(state.userId) {
                        connection.watching.append(state.userId)
                    }
                    connection.send(ServerFrame.reply(id: id, status: 200, result: ServerFrame.presenceList(states)))
                case .failure(let error):
                    connection.send(ServerFrame.reply(id: id, error: error))
                }
            }
        case .unwatch(let users, let id):
            hub.unwatch(self, users: users)
            watching.removeAll { users.contains($0) }
            send(ServerFrame.reply(id: id, status: 200, result: "{}"))
        }
    }

    // MARK: Hello, membership, replay

    private var resumeFrom: EventCursor?

    private func authenticate(token: String, id: FrameID?, resumeFrom: EventCursor?) {
        later({ [backend] in try await backend.authenticate(token: token) }) { connection, result in
            connection.helloAnswered(result, id: id, resumeFrom: resumeFrom)
        }
    }

    private func helloAnswered(_ result: Result<SessionIdentity, ChatError>, id: FrameID?, resumeFrom: EventCursor?) {
        guard session.phase == .authenticating else { return }
        let identity: SessionIdentity
        switch result {
        case .success(let value): identity = value
        case .failure(let error):
            send(ServerFrame.reply(id: id, error: error))
            return close(.unauthorized(error.code == .tokenExpired ? "access token expired" : "invalid access token"))
        }
        guard identity.expiresAt > Clock.nowMillis() else { return close(.unauthorized("access token expired")) }
        session.authenticated(identity)
        switch hub.attach(self, user: identity.userId) {
        case .tooManyConnections:
            return close(.tooManyConnections)
        case .attached(let membershipKnown):
            attached = true
            self.resumeFrom = resumeFrom
            send(
                ServerFrame.welcome(
                    id: id, identity: identity, sessionId: String(UInt64.random(in: 1...UInt64.max), radix: 36),
                    cursor: resumeFrom, limits: gateway.limits))
            if membershipKnown {
                startSync()
            } else {
                let user = identity.userId
                later({ [backend] in try await backend.memberships(of: user) }) { connection, result in
                    // A connection that closed meanwhile must not set the memberships of a newer hub entry.
                    guard connection.attached, connection.session.phase == .syncing else { return }
                    switch result {
                    case .success(let memberships):
                        connection.hub.membershipLoaded(
                            connection, user: user, conversations: memberships.conversations, head: memberships.head)
                        connection.startSync()
                    case .failure(let error):
                        connection.failed(error)
                    }
                }
            }
        }
    }

    /// Subscribed (attached, memberships known): now read what the client missed. Without a cursor the client
    /// starts at the head.
    private func startSync() {
        guard session.phase == .syncing else { return }
        guard resumeFrom != nil else {
            later({ [backend] in try await backend.headCursor() }) { connection, result in
                switch result {
                case .success(let head):
                    connection.session.advance(to: head)
                    connection.finishOrReadAgain()
                case .failure(let error):
                    connection.failed(error)
                }
            }
            return
        }
        session.advance(to: resumeFrom ?? 0)
        readPage()
    }

    private static let pageSize = 500

    private func readPage() {
        guard session.phase == .syncing, let user = session.identity?.userId else { return }
        guard context?.channel.isWritable == true, backlog == nil else {
            pageWaitsForWritability = true
            return
        }
        session.readingPage()
        let after = session.cursor
        later({ [backend] in try await backend.events(for: user, after: after, limit: Self.pageSize) }) {
            connection, result in
            connection.pageArrived(result)
        }
    }

    private func pageArrived(_ result: Result<SyncPage, ChatError>) {
        guard session.phase == .syncing else { return }
        switch result {
        case .failure(let error):
            failed(error)
        case .success(.resetRequired(let head, let oldest)):
            send(ServerFrame.resetRequired(cursor: head, oldestAvailable: oldest))
            session.reset(to: head)
            finishOrReadAgain()
        case .success(.events(let events, let next, let hasMore)):
            for event in events where session.replayed(event.cursor) {
                send(ByteBuffer(string: ServerFrame.event(event)), ephemeral: false, replay: true)
            }
            session.advance(to: next)
            if hasMore {
                readPage()
            } else {
                finishOrReadAgain()
            }
        }
    }

    /// Goes live, unless live events were dropped from the held list meanwhile: those are committed, so one more
    /// page from the store has them.
    private func finishOrReadAgain() {
        if session.mustReadAgain {
            readPage()
        } else {
            finishSync()
        }
    }

    private func finishSync() {
        let cursor = session.cursor
        let held = session.finishSync()
        send(ServerFrame.synced(cursor: cursor))
        for frame in held { send(frame, ephemeral: false, replay: true) }
    }

    private func reauthenticated(_ result: Result<SessionIdentity, ChatError>, id: FrameID?) {
        switch result {
        case .success(let fresh):
            if let error = session.reauthenticated(fresh) {
                send(ServerFrame.reply(id: id, error: error))
            } else {
                send(ServerFrame.reply(id: id, status: 200, result: "{\"expires_at\":\(fresh.expiresAt)}"))
            }
        case .failure(let error):
            send(ServerFrame.reply(id: id, error: error))
        }
    }

    /// The store failed a read the session cannot go on without: the client reconnects later.
    private func failed(_ error: ChatError) {
        gateway.logger.error("websocket session failed", metadata: ["error": "\(error)"])
        close(.serverError)
    }

    // MARK: Live delivery (called on the loop by the hub)

    /// Writes a batch of the hub's deliveries; each connection written to is flushed once, after the loop's tick.
    static func deliver(_ batch: [Hub.Delivery]) {
        for delivery in batch {
            let connection = delivery.connection
            if let cursor = delivery.cursor {
                switch connection.session.live(cursor: cursor, frame: delivery.frame) {
                case .write: connection.send(delivery.frame, ephemeral: false)
                case .skip, .held: continue
                }
            } else {
                guard connection.session.phase == .live || connection.session.phase == .syncing else { continue }
                connection.send(delivery.frame, ephemeral: true)
            }
        }
    }

    // MARK: Clock

    func tick(now: NIODeadline, nowMillis: Millis) {
        switch session.tick(now: now, nowMillis: nowMillis, limits: gateway.limits) {
        case .none:
            break
        case .ping:
            write(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer()))
        case .askForToken:
            send(ServerFrame.reauthenticate(graceSeconds: gateway.limits.reauthGraceSeconds))
        case .close(let reason):
            close(reason)
        case .abort:
            context?.close(promise: nil)
        }
    }

    // MARK: Writing

    private func send(_ text: String) {
        send(ByteBuffer(string: text), ephemeral: false)
    }

    /// Writes a text frame now if the channel takes it, else queues it. Past the queue's limit, ephemeral frames
    /// go first; if durable ones still do not fit, the client is too slow and is closed (it resumes from its
    /// cursor), so a stalled reader never holds more than the limit. Replayed frames are exempt: a replay is read
    /// one page at a time and only while the socket drains, so it is bounded by the page.
    private func send(_ payload: ByteBuffer, ephemeral: Bool, replay: Bool = false) {
        guard session.phase != .closing, let context else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: payload)
        if backlog == nil && context.channel.isWritable {
            write(frame)
            return
        }
        var backlog = self.backlog ?? CircularBuffer(initialCapacity: 16)
        self.backlog = nil
        if !replay, backlogBytes + payload.readableBytes > gateway.limits.maxOutboundBytes {
            let before = backlog.count
            backlog.removeAll { $0.ephemeral }
            if backlog.count != before {
                backlogBytes = backlog.reduce(0) { $0 + $1.frame.readableBytes }
            }
            if backlogBytes + payload.readableBytes > gateway.limits.maxOutboundBytes {
                if ephemeral {
                    self.backlog = backlog
                    return
                }
                backlogBytes = 0
                return close(.slowConsumer)
            }
        }
        backlog.append(Outbound(frame: payload, ephemeral: ephemeral))
        backlogBytes += payload.readableBytes
        self.backlog = backlog
    }

    private func drainBacklog() {
        guard let context, var backlog else { return }
        self.backlog = nil
        while context.channel.isWritable, let next = backlog.popFirst() {
            backlogBytes -= next.frame.readableBytes
            write(WebSocketFrame(fin: true, opcode: .text, data: next.frame))
        }
        if !backlog.isEmpty { self.backlog = backlog }
    }

    private func write(_ frame: WebSocketFrame) {
        guard let context else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
        if !needsFlush {
            needsFlush = true
            loop.flushSoon(self)
        }
    }

    /// Called by `loop` once per tick for a connection written to.
    func flush() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    /// Sends a close frame and closes the socket once it is out (or after a few seconds if the client does not
    /// read it; the loop's sweep sees to that).
    func close(_ reason: CloseReason) {
        guard let context, session.startClosing(now: .now()) else { return }
        backlog = nil
        backlogBytes = 0
        var data = context.channel.allocator.buffer(capacity: 2 + reason.reason.utf8.count)
        data.write(webSocketErrorCode: reason.webSocketCode)
        data.writeString(reason.reason)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
        needsFlush = false
        leaveHub()
    }

    // MARK: Async work

    /// Runs `work` on the shared executor and hands its result back to this connection on its event loop, if the
    /// connection is still open then.
    private func later<T: Sendable>(
        _ work: @escaping @Sendable () async throws -> T,
        then: @escaping @Sendable (WebSocketConnection, Result<T, ChatError>) -> Void
    ) {
        let connection = self
        Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(error)
            }
            connection.answer(result, then: then)
        }
    }

    /// Hands the result of async work back to this connection on its event loop, if it is still open then. Called
    /// from any thread. A `ChatError` goes to the client as it is; anything else is logged and becomes a 500.
    private func answer<T: Sendable>(
        _ result: Result<T, any Error>,
        then: @escaping @Sendable (WebSocketConnection, Result<T, ChatError>) -> Void
    ) {
        let answer = result.mapError { error -> ChatError in
            if let error = error as? ChatError { return error }
            gateway.logger.error("realtime backend failed", metadata: ["error": "\(error)"])
            return ChatError(.internalError, "internal error")
        }
        let connection = self
        eventLoop.execute {
            guard !connection.forgotten else { return }
            then(connection, answer)
        }
    }
}
