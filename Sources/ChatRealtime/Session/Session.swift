import ChatCore
import NIOCore

/// The state of one WebSocket session: awaiting hello → authenticating → syncing (replay from the store) → live →
/// closing. Its connection handler feeds it frames, live events, store answers and clock ticks; it decides and
/// returns what to do, and the handler does it. It holds no buffers while live, so an idle session stays small.
struct Session {
    enum Phase: Equatable {
        case awaitingHello
        case authenticating
        /// Authenticated; sending missed events from the store while holding live ones back.
        case syncing
        case live
        case closing
    }

    /// What the handler does after a frame.
    enum Action: Equatable {
        case none
        case send(String)
        case close(CloseReason)
        case authenticate(token: String, id: FrameID?, resumeFrom: EventCursor?)
        case reauthenticate(token: String, id: FrameID?)
        case perform(ClientCommand, id: FrameID?)
        case typing(conversation: ConversationID, active: Bool, id: FrameID?)
        case watch([UserID], id: FrameID?)
        case unwatch([UserID], id: FrameID?)
    }

    /// What the handler does with a live event.
    enum LiveDecision: Equatable {
        case write
        /// Already sent (by the replay) or older than the session's position.
        case skip
        /// Held until the replay catches up (kept in `held`).
        case held
    }

    /// What the clock asks for.
    enum TickAction: Equatable {
        case none
        case ping
        case askForToken
        case close(CloseReason)
        /// The close frame could not be delivered in time: drop the connection.
        case abort
    }

    private(set) var phase = Phase.awaitingHello
    private(set) var identity: SessionIdentity?
    /// The cursor of the last event this client has been sent: a live event at or before it is a duplicate.
    private(set) var cursor: EventCursor = 0
    /// Live events that arrived while syncing, in cursor order, with their frames.
    private(set) var held: [(cursor: EventCursor, frame: ByteBuffer)] = []
    /// Live events were dropped from `held` since the last page was asked for, so one more page must be read.
    private var heldDropped = false
    private let openedAt: NIODeadline
    private var lastHeard: NIODeadline
    private var lastPinged: NIODeadline
    private var reauthDeadline: NIODeadline?
    private var closingDeadline: NIODeadline?
    private var frames: TokenBucket
    private var refusedInARow = 0

    /// Live events held back during a replay before the session stops holding and reads them from the store.
    static let maxHeld = 512

    /// The limits are not kept here but passed to the calls that need them: every byte of an idle session counts
    /// thousands of times.
    init(limits: RealtimeLimits, now: NIODeadline) {
        openedAt = now
        lastHeard = now
        lastPinged = now
        frames = TokenBucket(burst: limits.frameBurst)
    }

    // MARK: Frames from the client

    /// Any frame (data or control) shows the peer is alive.
    mutating func heard(at now: NIODeadline) {
        lastHeard = now
    }

    enum Admission: Equatable {
        case admit
        case refuse
        case close(CloseReason)
    }

    /// The per-connection frame budget: over it a frame gets a 429 reply; a client that keeps going after many
    /// refusals in a row is closed.
    mutating func admit(at now: NIODeadline, limits: RealtimeLimits) -> Admission {
        if frames.take(now: now, perSecond: limits.framesPerSecond, burst: limits.frameBurst) {
            refusedInARow = 0
            return .admit
        }
        return refused(limits: limits)
    }

    /// A frame refused by this or by the user's budget: more than `frameBurst` in a row closes the session.
    mutating func refused(limits: RealtimeLimits) -> Admission {
        refusedInARow += 1
        return refusedInARow > limits.frameBurst ? .close(.flood) : .refuse
    }

    mutating func received(_ frame: ClientFrame) -> Action {
        switch (phase, frame.request) {
        case (.closing, _):
            return .none
        case (.awaitingHello, .hello(let token, let cursor)):
            phase = .authenticating
            return .authenticate(token: token, id: frame.id, resumeFrom: cursor)
        case (.awaitingHello, _):
            return .close(.helloRequired)
        case (.authenticating, _):
            return .send(
                ServerFrame.reply(id: frame.id, error: ChatError(.conflict, "wait for welcome before other frames")))
        case (_, .hello):
            return .send(ServerFrame.reply(id: frame.id, error: ChatError(.conflict, "this session already said hello")))
        case (_, .auth(let token)):
            return .reauthenticate(token: token, id: frame.id)
        case (_, .command(let command)):
            return .perform(command, id: frame.id)
        case (_, .typing(let conversation, let active)):
            return .typing(conversation: conversation, active: active, id: frame.id)
        case (_, .presenceSubscribe(let users)):
            return .watch(users, id: frame.id)
        case (_, .presenceUnsubscribe(let users)):
            return .unwatch(users, id: frame.id)
        case (_, .ping):
            return .send(ServerFrame.reply(id: frame.id, status: 200, result: "{\"time\":\(Clock.nowMillis())}"))
        }
    }

    /// A frame that could not be parsed: an error reply, except before hello, where only a hello is accepted.
    mutating func malformed(_ error: FrameError) -> Action {
        switch phase {
        case .awaitingHello: return .close(.helloRequired)
        case .closing: return .none
        default: return .send(ServerFrame.reply(id: error.id, error: error.error))
        }
    }

    // MARK: Authentication

    /// The hello's token checked out: the session syncs from here.
    mutating func authenticated(_ identity: SessionIdentity) {
        guard phase == .authenticating else { return }
        self.identity = identity
        phase = .syncing
    }

    /// A fresh token for the same user extends the session.
    mutating func reauthenticated(_ fresh: SessionIdentity) -> ChatError? {
        guard let identity, fresh.userId == identity.userId else {
            return ChatError.forbidden("the token belongs to another user")
        }
        self.identity = fresh
        reauthDeadline = nil
        return nil
    }

    // MARK: Sync and live events

    /// Decides what to do with a live event. While syncing it is held back (bounded: past `maxHeld` the held
    /// events are dropped and read from the store instead, where they are already committed).
    mutating func live(cursor eventCursor: EventCursor, frame: ByteBuffer) -> LiveDecision {
        switch phase {
        case .live:
            guard eventCursor > cursor else { return .skip }
            cursor = eventCursor
            return .write
        case .syncing:
            guard eventCursor > cursor else { return .skip }
            if held.count >= Self.maxHeld {
                held.removeAll()
                heldDropped = true
                return .skip
            }
            held.append((eventCursor, frame))
            return .held
        default:
            return .skip
        }
    }

    /// The session is about to read a page from the store: whatever was dropped from `held` is committed by now
    /// and will be in that page.
    mutating func readingPage() {
        heldDropped = false
    }

    /// A replayed event: true when it is news to the client.
    mutating func replayed(_ eventCursor: EventCursor) -> Bool {
        guard eventCursor > cursor else { return false }
        cursor = eventCursor
        return true
    }

    /// The replay reached `head` (a page's end, or the head a client without a cursor starts from).
    mutating func advance(to head: EventCursor) {
        cursor = max(cursor, head)
    }

    /// The client's cursor is outside the retained log (older, or ahead of it): it continues from `head`, even when
    /// that is below the cursor it claimed.
    mutating func reset(to head: EventCursor) {
        cursor = head
    }

    var mustReadAgain: Bool { heldDropped }

    /// The replay is over: returns the held frames newer than the replay, in order, and goes live.
    mutating func finishSync() -> [ByteBuffer] {
        guard phase == .syncing else { return [] }
        phase = .live
        let frames = held.filter { $0.cursor > cursor }
        held = []
        if let last = frames.last { cursor = last.cursor }
        return frames.map(\.frame)
    }

    // MARK: Clock and closing

    mutating func tick(now: NIODeadline, nowMillis: Millis, limits: RealtimeLimits) -> TickAction {
        if phase == .closing {
            return closingDeadline.map { now >= $0 } == true ? .abort : .none
        }
        if phase == .awaitingHello || phase == .authenticating,
            now - openedAt >= .seconds(Int64(limits.helloTimeoutSeconds))
        {
            return .close(.helloTimeout)
        }
        if now - lastHeard >= .seconds(Int64(limits.timeoutSeconds)) {
            return .close(.heartbeatTimeout)
        }
        if let reauthDeadline {
            if now >= reauthDeadline { return .close(.unauthorized("access token expired")) }
        } else if let identity, nowMillis >= identity.expiresAt {
            reauthDeadline = now + .seconds(Int64(limits.reauthGraceSeconds))
            return .askForToken
        }
        if now - lastHeard >= .seconds(Int64(limits.heartbeatSeconds)),
            now - lastPinged >= .seconds(Int64(limits.heartbeatSeconds))
        {
            lastPinged = now
            return .ping
        }
        return .none
    }

    /// Starts closing; false if already closing. The connection is dropped if the close frame is not out in time.
    mutating func startClosing(now: NIODeadline) -> Bool {
        guard phase != .closing else { return false }
        phase = .closing
        held = []
        closingDeadline = now + .seconds(5)
        return true
    }
}
