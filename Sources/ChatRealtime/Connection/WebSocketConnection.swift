import ChatCore
import NIOCore
import NIOWebSocket

/// One upgraded WebSocket: a plain NIO channel handler, not a Swift Task. It turns what happens into inputs of its
/// `Session` and performs the actions the session returns: it writes frames (through its `OutboundQueue`), calls the
/// hub and the backend, and closes. It decides nothing itself.
///
/// Work that must wait (token checks, store reads and writes) runs on the shared services and comes back to this
/// handler on its event loop (`eventLoop.execute`); nothing waits per connection.
final class WebSocketConnection: ChannelInboundHandler, HubConnection, @unchecked Sendable {
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
    private var assembler = FrameAssembler()
    private var outbound = OutboundQueue()
    private var needsFlush = false
    /// The close frame is written: nothing may follow it on the wire (RFC 6455 §5.5.1), even what the session
    /// decided before an overflow closed the socket.
    private var closeWritten = false
    /// For the session's length in `chatctl stats`.
    private let openedAt = NIODeadline.now()

    init(gateway: RealtimeGateway, eventLoop: any EventLoop) {
        self.gateway = gateway
        self.eventLoop = eventLoop
        loop = gateway.connections(on: eventLoop)
        session = Session(limits: gateway.limits, now: .now())
    }

    private var hub: Hub<WebSocketConnection> { gateway.hub }
    private var backend: any RealtimeBackend { gateway.backend }
    private var limits: RealtimeLimits { gateway.limits }

    /// The socket takes more now and nothing waits before it.
    private var writable: Bool { context?.channel.isWritable == true && outbound.isEmpty }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        gateway.opened(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        perform(session.disconnected())
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(session.disconnected())
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        gateway.stats.framesReceived.add(1, ordering: .relaxed)
        let time = SessionTime.now()
        let inbound = assembler.assemble(unwrapInboundIn(data), maxBytes: limits.maxFrameBytes)
        let hub = self.hub
        perform(
            session.received(
                inbound, at: time, writable: context.channel.isWritable, limits: limits,
                userBudget: { hub.allowFrame(user: $0, now: time.seconds) }))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard context.channel.isWritable else { return }
        while context.channel.isWritable, let frame = outbound.next() {
            write(WebSocketFrame(fin: true, opcode: .text, data: frame))
        }
        perform(session.nextPage(writable: writable))
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

    // MARK: Performing the session's actions

    private func perform(_ actions: [Session.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: Session.Action?) {
        guard let action else { return }
        switch action {
        case .send(let text):
            send(ByteBuffer(string: text), .durable)
        case .replay(let frame):
            send(frame, .replay)
        case .pong(let data):
            write(WebSocketFrame(fin: true, opcode: .pong, data: data))
        case .ping:
            write(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer()))
        case .close(let reason, let leaving):
            writeClose(reason)
            leave(leaving)
        case .abort:
            context?.close(promise: nil)
        case .disconnected(let leaving):
            outbound.removeAll()
            if session.identity != nil {
                gateway.stats.sessionEnded(after: .nanoseconds((NIODeadline.now() - openedAt).nanoseconds))
            }
            leave(leaving)
            gateway.closed(self)
        case .authenticate(let token):
            whenAnswered({ [backend] in try await backend.authenticate(token: token) }) { connection, result in
                connection.perform(connection.session.authenticated(result, at: .now()))
            }
        case .reauthenticate(let token, let id):
            whenAnswered({ [backend] in try await backend.authenticate(token: token) }) { connection, result in
                connection.perform(connection.session.reauthenticated(result, id: id))
            }
        case .attach(let user, let loginSession):
            perform(
                session.attached(
                    hub.attach(self, user: user, session: loginSession), at: .now(), limits: limits,
                    maxMessageBytes: backend.maxMessageBytes))
        case .loadMemberships(let user):
            whenAnswered({ [backend] in try await backend.memberships(of: user) }) { connection, result in
                switch result {
                case .success(let memberships):
                    connection.perform(
                        connection.session.membershipsLoaded(
                            conversations: memberships.conversations, head: memberships.head))
                case .failure(let error):
                    connection.replayFailed(error)
                }
            }
        case .indexMemberships(let user, let conversations, let head):
            hub.membershipLoaded(self, user: user, conversations: conversations, head: head)
        case .readHead:
            whenAnswered({ [backend] in try await backend.headCursor() }) { connection, result in
                switch result {
                case .success(let head): connection.perform(connection.session.headLoaded(head))
                case .failure(let error): connection.replayFailed(error)
                }
            }
        case .continueReplay:
            perform(session.nextPage(writable: writable))
        case .readPage(let user, let after):
            whenAnswered({ [backend] in try await backend.events(for: user, after: after, limit: Session.pageSize) }) {
                connection, result in
                switch result {
                case .success(let page): connection.perform(connection.session.pageLoaded(page))
                case .failure(let error): connection.replayFailed(error)
                }
            }
        case .perform(let command, let user, let id):
            let connection = self
            backend.perform(command, as: user) { result in
                connection.hand(result) { connection, result in
                    connection.perform(connection.session.performed(result, id: id))
                }
            }
        case .typing(let user, let conversation, let active, let id):
            let member = hub.typing(user: user, conversation: conversation, active: active, now: Clock.nowMillis())
            perform(session.typed(member: member, conversation: conversation, id: id))
        case .checkPresence(let users, let viewer, let id):
            whenAnswered({ [backend] in try await backend.presenceVisible(users, viewer: viewer) }) {
                connection, result in
                connection.perform(connection.session.presenceChecked(result, id: id))
            }
        case .watch(let visible, let id):
            perform(session.watched(hub.watch(self, visible: visible), id: id))
        case .unwatch(let users, let reply):
            hub.unwatch(self, users: users)
            send(ByteBuffer(string: reply), .durable)
        }
    }

    private func leave(_ departure: Session.Departure?) {
        guard let departure else { return }
        hub.detach(self, user: departure.user, watching: departure.watching)
    }

    /// A read the replay needed failed: the client reconnects later.
    private func replayFailed(_ error: ChatError) {
        gateway.logger.error("websocket session failed", metadata: ["error": "\(error)"])
        perform(session.replayFailed(at: .now()))
    }

    /// Closes with `reason` unless already closing (shutdown, decoder errors).
    func close(_ reason: CloseReason) {
        perform(session.close(reason, at: .now()))
    }

    // MARK: Live delivery (called on the loop by the hub)

    /// Writes a batch of the hub's deliveries; each connection written to is flushed once, after the loop's tick.
    static func deliver(_ batch: [HubDelivery<WebSocketConnection>]) {
        for delivery in batch {
            let connection = delivery.connection
            if let cursor = delivery.cursor {
                if connection.session.live(cursor: cursor, frame: delivery.frame) == .write {
                    connection.send(delivery.frame, .durable)
                }
            } else if connection.session.acceptsEphemeral {
                connection.send(delivery.frame, .ephemeral)
            }
        }
    }

    func revoked(_ revocation: SessionRevocation) {
        perform(session.revoked(revocation, at: .now()))
    }

    // MARK: Clock

    func tick(at time: SessionTime) {
        perform(session.tick(at: time, limits: limits))
    }

    // MARK: Writing

    /// Writes a text frame now, or queues it, as the outbound queue decides. Only the session's actions and the
    /// frames it accepts from the hub come here: after a close it returns none.
    private func send(_ payload: ByteBuffer, _ kind: OutboundQueue.Kind) {
        guard let context, !closeWritten else { return }
        switch outbound.offer(payload, kind: kind, writable: context.channel.isWritable, limit: limits.maxOutboundBytes) {
        case .write: write(WebSocketFrame(fin: true, opcode: .text, data: payload))
        case .queued, .dropped: break
        case .overflow: close(.slowConsumer)
        }
    }

    private func write(_ frame: WebSocketFrame) {
        guard let context, !closeWritten else { return }
        gateway.stats.framesSent.add(1, ordering: .relaxed)
        gateway.stats.bytesSent.add(frame.data.readableBytes, ordering: .relaxed)
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

    /// Sends a close frame and closes the socket once it is out (or at the session's closing deadline if the client
    /// does not read it; the loop's sweep sees to that).
    private func writeClose(_ reason: CloseReason) {
        outbound.removeAll()
        guard let context, !closeWritten else { return }
        closeWritten = true
        var data = context.channel.allocator.buffer(capacity: 2 + reason.reason.utf8.count)
        data.write(webSocketErrorCode: reason.webSocketCode)
        data.writeString(reason.reason)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
        needsFlush = false
    }

    // MARK: Async work

    /// Runs `work` on the shared executor and hands its result to `then` on this connection's event loop, if the
    /// connection is still open then.
    private func whenAnswered<T: Sendable>(
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
            connection.hand(result, to: then)
        }
    }

    /// Hands the result of async work to `then` on this connection's event loop, if it is still open then. Called
    /// from any thread. A `ChatError` goes to the client as it is; anything else is logged and becomes a 500.
    private func hand<T: Sendable>(
        _ result: Result<T, any Error>,
        to then: @escaping @Sendable (WebSocketConnection, Result<T, ChatError>) -> Void
    ) {
        let answer = result.mapError { error -> ChatError in
            if let error = error as? ChatError { return error }
            gateway.logger.error("realtime backend failed", metadata: ["error": "\(error)"])
            return ChatError(.internalError, "internal error")
        }
        let connection = self
        eventLoop.execute {
            guard !connection.session.isClosed else { return }
            then(connection, answer)
        }
    }
}
