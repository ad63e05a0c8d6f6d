import ChatCore
import NIOCore

/// A moment as a session sees it: the monotonic clock for timeouts and budgets, the wall clock for token expiry.
/// The connection reads both once per input; tests pass explicit ones.
struct SessionTime: Equatable {
    var monotonic: NIODeadline
    var wall: Millis

    static func now() -> SessionTime { SessionTime(monotonic: .now(), wall: Clock.nowMillis()) }

    /// The monotonic clock in seconds, as token buckets count.
    var seconds: Double { Double(monotonic.uptimeNanoseconds) / 1e9 }
}

/// One WebSocket session, the whole of its state machine:
///
///     awaitingHello → authenticating → syncing(Replay) → live → closing(deadline) → closed
///
/// Its connection feeds it what happens — client frames, answers of the store and the hub, live events, writability,
/// clock ticks — and performs the actions it returns; the session decides everything (admission, replay paging, when
/// to go live, timeouts, what to close with) and does nothing itself. Each input states the time, so a test drives it
/// without sockets or sleeps. It holds no buffers while live, so an idle session stays small.
struct Session {
    enum State: Equatable {
        case awaitingHello
        /// The hello's token is being checked; then the hub takes the connection.
        case authenticating(hello: FrameID?, resumeFrom: EventCursor?)
        /// In the hub; sending missed events from the store while holding live ones back.
        case syncing(Replay)
        case live
        /// The close frame is on its way; past the deadline the socket is dropped.
        case closing(deadline: NIODeadline)
        /// The socket is gone.
        case closed
    }

    private(set) var state = State.awaitingHello
    /// Set once the hello's token checked out.
    private(set) var identity: Identity?
    /// The cursor of the last event this client has been sent: a live event at or before it is a duplicate.
    private(set) var cursor: EventCursor = 0
    /// Users whose presence this connection watches.
    private(set) var watching: [UserID] = []
    private let openedAt: NIODeadline
    private var lastHeard: NIODeadline
    private var lastPinged: NIODeadline
    private var reauthDeadline: NIODeadline?
    private var frames: TokenBucket
    private var refusedInARow = 0

    /// Live events held back during a replay before the session stops holding and reads them from the store.
    static let maxHeld = 512
    static let pageSize = 500
    /// How long a close frame may take to go out before the socket is dropped.
    static let closeTimeout = TimeAmount.seconds(5)

    /// The limits are not kept here but passed to the inputs that need them: every byte of an idle session counts
    /// thousands of times.
    init(limits: RealtimeLimits, now: NIODeadline) {
        openedAt = now
        lastHeard = now
        lastPinged = now
        frames = TokenBucket(burst: limits.frameBurst)
    }

    /// In the hub: from the hub's yes until the close.
    var isInHub: Bool {
        switch state {
        case .syncing, .live: true
        default: false
        }
    }

    var isClosed: Bool { state == .closed }

    /// Typing and presence frames reach a session that is in the hub.
    var acceptsEphemeral: Bool { isInHub }

    // MARK: Frames from the client

    /// Any frame shows the peer is alive, a fragment of an unfinished message included.
    private mutating func heard(at time: SessionTime) {
        lastHeard = time.monotonic
    }

    /// A frame (data or control, a fragment included) from the client. Every frame takes one from this
    /// connection's budget, before `hello` too; a whole text message of a session in the hub also takes one from
    /// the user's budget over all their connections (`userBudget`, the hub's), asked only when the connection's
    /// own budget admits it.
    mutating func received(
        _ inbound: Inbound, at time: SessionTime, writable: Bool, limits: RealtimeLimits,
        userBudget: (UserID) -> Bool
    ) -> Action? {
        heard(at: time)
        switch state {
        case .closing, .closed: return nil
        default: break
        }
        // What ends the session ends it whatever the budget says.
        switch inbound {
        case .violation(let reason): return close(reason, at: time)
        case .binary: return close(.binaryFrame, at: time)
        case .close: return close(.normal, at: time)
        default: break
        }
        let user = isInHub ? identity?.userId : nil
        let admission = admit(
            at: time, limits: limits, userBudget: { inbound.isMessage ? user.map(userBudget) ?? true : true })
        switch admission {
        case .admit: break
        case .close: return close(.flood, at: time)
        case .refuse:
            // Only a message in the hub is answered (its reply says to slow down); anything else over the budget
            // is dropped and counts toward the close.
            guard case .text(let bytes) = inbound, user != nil else { return nil }
            return refuse(bytes)
        }
        switch inbound {
        case .text(let bytes):
            switch ClientFrame.parse(bytes.readableBytesView) {
            case .success(let frame): return received(frame, at: time)
            case .failure(let error): return malformed(error, at: time)
            }
        case .fragment, .pong, .violation, .binary, .close:
            return nil
        case .ping(let data):
            // Only the latest ping needs an answer (RFC 6455 5.5.3): a peer that pings without reading gets none
            // queued.
            return writable ? .pong(data) : nil
        }
    }

    private enum Admission {
        case admit, refuse, close
    }

    /// The per-connection frame budget, then the user's: over either, a frame is refused; a client that keeps
    /// going after more than `frameBurst` refusals in a row is closed.
    private mutating func admit(at time: SessionTime, limits: RealtimeLimits, userBudget: () -> Bool) -> Admission {
        if frames.take(now: time.seconds, perSecond: Double(limits.framesPerSecond), burst: limits.frameBurst) {
            // Within this connection's own budget: only a run of its own refusals closes it, never the user's
            // other devices using up the shared budget.
            refusedInARow = 0
            if userBudget() { return .admit }
            return .refuse
        }
        refusedInARow += 1
        return refusedInARow > limits.frameBurst ? .close : .refuse
    }

    private func refuse(_ bytes: ByteBuffer) -> Action {
        let id: FrameID? =
            switch ClientFrame.parse(bytes.readableBytesView) {
            case .success(let frame): frame.id
            case .failure(let error): error.id
            }
        return .send(ServerFrame.reply(id: id, error: ChatError(.rateLimited, "too many frames; slow down", retryAfter: 1)))
    }

    /// A parsed client frame.
    mutating func received(_ frame: ClientFrame, at time: SessionTime) -> Action? {
        switch (state, frame.request) {
        case (.closing, _), (.closed, _):
            return nil
        case (.awaitingHello, .hello(let token, let resumeFrom)):
            state = .authenticating(hello: frame.id, resumeFrom: resumeFrom)
            return .authenticate(token: token)
        case (.awaitingHello, _):
            return close(.helloRequired, at: time)
        case (.authenticating, _):
            return .send(
                ServerFrame.reply(id: frame.id, error: ChatError(.conflict, "wait for welcome before other frames")))
        case (_, .hello):
            return .send(ServerFrame.reply(id: frame.id, error: ChatError(.conflict, "this session already said hello")))
        case (_, .auth(let token)):
            return .reauthenticate(token: token, id: frame.id)
        case (_, .ping):
            return .send(ServerFrame.reply(id: frame.id, status: 200, result: "{\"time\":\(time.wall)}"))
        case (_, _):
            guard let user = identity?.userId else { return nil }
            switch frame.request {
            case .command(let command):
                return .perform(command, user: user, id: frame.id)
            case .typing(let conversation, let active):
                return .typing(user: user, conversation: conversation, active: active, id: frame.id)
            case .presenceSubscribe(let users):
                return .checkPresence(users: users, viewer: user, id: frame.id)
            case .presenceUnsubscribe(let users):
                watching.removeAll { users.contains($0) }
                return .unwatch(users, reply: ServerFrame.reply(id: frame.id, status: 200, result: "{}"))
            case .hello, .auth, .ping:
                return nil
            }
        }
    }

    /// A frame that could not be parsed: an error reply, except before hello, where only a hello is accepted.
    mutating func malformed(_ error: FrameError, at time: SessionTime) -> Action? {
        switch state {
        case .awaitingHello: close(.helloRequired, at: time)
        case .closing, .closed: nil
        default: .send(ServerFrame.reply(id: error.id, error: error.error))
        }
    }

    // MARK: Hello and the hub

    /// The hello's token was checked.
    mutating func authenticated(_ result: Result<Identity, ChatError>, at time: SessionTime) -> [Action] {
        guard case .authenticating(let hello, _) = state else { return [] }
        switch result {
        case .failure(let error):
            let why = error.code == .tokenExpired ? "access token expired" : "invalid access token"
            return [.send(ServerFrame.reply(id: hello, error: error))] + closing(.unauthorized(why), at: time)
        case .success(let fresh):
            guard fresh.expiresAt > time.wall else { return closing(.unauthorized("access token expired"), at: time) }
            identity = fresh
            return [.attach(fresh.userId, session: fresh.sessionId)]
        }
    }

    /// The hub's answer to `attach`: welcome (with the limits a client must keep), then the replay.
    mutating func attached(
        _ attachment: Attachment, at time: SessionTime, limits: RealtimeLimits, maxMessageBytes: Int
    ) -> [Action] {
        guard case .authenticating(let hello, let resumeFrom) = state, let identity else { return [] }
        let membershipKnown: Bool
        switch attachment {
        case .attached(let known): membershipKnown = known
        case .tooManyConnections: return closing(.tooManyConnections, at: time)
        case .sessionEnded(let why): return closing(.sessionRevoked(why), at: time)
        }
        let welcome = ServerFrame.welcome(
            id: hello, identity: identity, sessionId: String(UInt64.random(in: 1...UInt64.max), radix: 36),
            cursor: resumeFrom, limits: limits, maxMessageBytes: maxMessageBytes)
        if !membershipKnown {
            state = .syncing(Replay(step: .loadingMemberships, resumeFrom: resumeFrom))
            return [.send(welcome), .loadMemberships(identity.userId)]
        }
        state = .syncing(Replay(step: .readingHead, resumeFrom: resumeFrom))
        return [.send(welcome)] + startReplay()
    }

    /// The user's conversations as of `head`, for the hub; then the replay starts.
    mutating func membershipsLoaded(conversations: [ConversationID], head: EventCursor) -> [Action] {
        guard case .syncing(let replay) = state, replay.step == .loadingMemberships, let user = identity?.userId
        else { return [] }
        return [.indexMemberships(user, conversations: conversations, head: head)] + startReplay()
    }

    private mutating func startReplay() -> [Action] {
        guard case .syncing(let replay) = state else { return [] }
        guard let resumeFrom = replay.resumeFrom else {
            updateReplay { $0.step = .readingHead }
            return [.readHead]
        }
        cursor = max(cursor, resumeFrom)
        updateReplay { $0.step = .pageWanted }
        return [.continueReplay]
    }

    // MARK: Replay

    /// The head cursor, for a client that starts without one.
    mutating func headLoaded(_ head: EventCursor) -> [Action] {
        guard case .syncing(let replay) = state, replay.step == .readingHead else { return [] }
        cursor = max(cursor, head)
        return finishOrReadAgain()
    }

    /// Asks for the next page if the socket takes more now (`writable`: writable and nothing queued); otherwise
    /// the page waits for `nextPage` to be asked again when the socket drains.
    mutating func nextPage(writable: Bool) -> Action? {
        guard case .syncing(let replay) = state, let user = identity?.userId,
            replay.step == .pageWanted || replay.step == .waitingForWritability
        else { return nil }
        guard writable else {
            updateReplay { $0.step = .waitingForWritability }
            return nil
        }
        updateReplay { replay in
            replay.step = .readingPage
            // Whatever was dropped from `held` is committed by now and will be in this page.
            replay.heldDropped = false
        }
        return .readPage(user: user, after: cursor)
    }

    /// A page of the store's events after `cursor`.
    mutating func pageLoaded(_ page: SyncPage) -> [Action] {
        guard case .syncing(let replay) = state, replay.step == .readingPage else { return [] }
        switch page {
        case .resetRequired(let head, let oldest):
            // The client's cursor is outside the retained log (older, or ahead of it): it continues from `head`,
            // even when that is below the cursor it claimed.
            cursor = head
            return [.send(ServerFrame.resetRequired(cursor: head, oldestAvailable: oldest))] + finishOrReadAgain()
        case .events(let events, let next, let hasMore):
            var actions: [Action] = []
            actions.reserveCapacity(events.count + 2)
            for event in events where event.cursor > cursor {
                cursor = event.cursor
                actions.append(.replay(ByteBuffer(string: ServerFrame.event(event))))
            }
            cursor = max(cursor, next)
            if hasMore {
                updateReplay { $0.step = .pageWanted }
                return actions + [.continueReplay]
            }
            return actions + finishOrReadAgain()
        }
    }

    /// Goes live, unless live events were dropped from the held list meanwhile: those are committed, so one more
    /// page from the store has them.
    private mutating func finishOrReadAgain() -> [Action] {
        guard case .syncing(let replay) = state else { return [] }
        if replay.heldDropped {
            updateReplay { $0.step = .pageWanted }
            return [.continueReplay]
        }
        let syncedAt = cursor
        let newer = replay.held.filter { $0.cursor > syncedAt }
        state = .live
        if let last = newer.last { cursor = last.cursor }
        return [.send(ServerFrame.synced(cursor: syncedAt))] + newer.map { .replay($0.frame) }
    }

    /// A read the replay cannot go on without failed: the client reconnects later and resumes.
    mutating func replayFailed(at time: SessionTime) -> Action? {
        guard case .syncing = state else { return nil }
        return close(.serverError, at: time)
    }

    // MARK: Live events

    /// Decides what to do with a live event. While syncing it is held back (bounded: past `maxHeld` the held
    /// events are dropped and read from the store instead, where they are already committed).
    mutating func live(cursor eventCursor: EventCursor, frame: ByteBuffer) -> LiveDecision {
        switch state {
        case .live:
            guard eventCursor > cursor else { return .skip }
            cursor = eventCursor
            return .write
        case .syncing:
            guard eventCursor > cursor else { return .skip }
            return updateReplay { replay in
                if replay.held.count >= Self.maxHeld {
                    replay.held = []
                    replay.heldDropped = true
                    return .skip
                }
                replay.held.append(HeldEvent(cursor: eventCursor, frame: frame))
                return .held
            } ?? .skip
        default:
            return .skip
        }
    }

    /// Runs `body` on the replay's state without copying its held events (the enum's payload is taken out first).
    @discardableResult
    private mutating func updateReplay<T>(_ body: (inout Replay) -> T) -> T? {
        guard case .syncing(var replay) = state else { return nil }
        state = .closed
        defer { state = .syncing(replay) }
        return body(&replay)
    }

    // MARK: Answers

    /// A fresh token for the same user extends the session.
    mutating func reauthenticated(_ result: Result<Identity, ChatError>, id: FrameID?) -> Action? {
        guard isInHub else { return nil }
        switch result {
        case .failure(let error):
            return .send(ServerFrame.reply(id: id, error: error))
        case .success(let fresh):
            guard fresh.userId == identity?.userId else {
                return .send(ServerFrame.reply(id: id, error: .forbidden("the token belongs to another user")))
            }
            identity = fresh
            reauthDeadline = nil
            return .send(ServerFrame.reply(id: id, status: 200, result: "{\"expires_at\":\(fresh.expiresAt)}"))
        }
    }

    /// The answer to a command, for its reply.
    func performed(_ result: Result<CommandResult, ChatError>, id: FrameID?) -> Action? {
        guard isInHub else { return nil }
        switch result {
        case .success(let answer): return .send(ServerFrame.reply(id: id, status: answer.status, result: answer.json))
        case .failure(let error): return .send(ServerFrame.reply(id: id, error: error))
        }
    }

    /// The hub's answer to a typing frame: a reply only to a frame with an id, or to a non-member.
    func typed(member: Bool, conversation: ConversationID, id: FrameID?) -> Action? {
        guard isInHub else { return nil }
        guard member else { return .send(ServerFrame.reply(id: id, error: .notFound("conversation \(conversation)"))) }
        return id == nil ? nil : .send(ServerFrame.reply(id: id, status: 200, result: "{}"))
    }

    /// Of the users a client asked to watch, those it may see (checked in the store).
    func presenceChecked(_ result: Result<[PresenceVisibility], ChatError>, id: FrameID?) -> Action? {
        guard isInHub else { return nil }
        switch result {
        case .success(let visible): return .watch(visible: visible, id: id)
        case .failure(let error): return .send(ServerFrame.reply(id: id, error: error))
        }
    }

    /// The hub now sends this connection the presence of `states`' users.
    mutating func watched(_ states: [PresenceState], id: FrameID?) -> Action {
        for state in states where !watching.contains(state.userId) { watching.append(state.userId) }
        return .send(ServerFrame.reply(id: id, status: 200, result: ServerFrame.presenceList(states)))
    }

    /// A login session ended: closes this one if it is among them.
    mutating func revoked(_ revocation: SessionRevocation, at time: SessionTime) -> Action? {
        guard let identity, revocation.ends(identity) else { return nil }
        return close(.sessionRevoked(revocation.reason), at: time)
    }

    // MARK: Clock and closing

    /// Once a second: pings, timeouts, token expiry, and a close frame that does not go out.
    mutating func tick(at time: SessionTime, limits: RealtimeLimits) -> Action? {
        let now = time.monotonic
        switch state {
        case .closed: return nil
        case .closing(let deadline): return now >= deadline ? .abort : nil
        case .awaitingHello, .authenticating:
            if now - openedAt >= .seconds(Int64(limits.helloTimeoutSeconds)) { return close(.helloTimeout, at: time) }
        case .syncing, .live: break
        }
        if now - lastHeard >= .seconds(Int64(limits.timeoutSeconds)) {
            return close(.heartbeatTimeout, at: time)
        }
        if let reauthDeadline {
            if now >= reauthDeadline { return close(.unauthorized("access token expired"), at: time) }
        } else if let identity, isInHub, time.wall >= identity.expiresAt {
            reauthDeadline = now + .seconds(Int64(limits.reauthGraceSeconds))
            return .send(ServerFrame.reauthenticate(graceSeconds: limits.reauthGraceSeconds))
        }
        if now - lastHeard >= .seconds(Int64(limits.heartbeatSeconds)),
            now - lastPinged >= .seconds(Int64(limits.heartbeatSeconds))
        {
            lastPinged = now
            return .ping
        }
        return nil
    }

    /// Starts closing with `reason`; nil if already closing.
    mutating func close(_ reason: CloseReason, at time: SessionTime) -> Action? {
        switch state {
        case .closing, .closed: return nil
        default: break
        }
        let leaving = departure()
        state = .closing(deadline: time.monotonic + Self.closeTimeout)
        watching = []
        return .close(reason, leaving: leaving)
    }

    /// `close` as a list of actions, for inputs that answer with several.
    private mutating func closing(_ reason: CloseReason, at time: SessionTime) -> [Action] {
        close(reason, at: time).map { [$0] } ?? []
    }

    /// The socket is gone, for whatever reason; nil if the session already knew.
    mutating func disconnected() -> Action? {
        guard state != .closed else { return nil }
        let leaving = departure()
        state = .closed
        watching = []
        return .disconnected(leaving: leaving)
    }

    private func departure() -> Departure? {
        guard isInHub, let user = identity?.userId else { return nil }
        return Departure(user: user, watching: watching)
    }
}
