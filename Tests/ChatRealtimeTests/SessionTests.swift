import ChatCore
import NIOCore
import Testing

@testable import ChatRealtime

/// The session state machine, driven with explicit times and answers: no sockets, no sleeps.
@Suite struct SessionTests {
    let limits = RealtimeLimits()
    let alice = Identity(userId: 7, sessionId: 1, expiresAt: at(0).wall + 900_000)

    func receive(_ session: inout Session, _ inbound: Inbound, at time: SessionTime = at(1), writable: Bool = true,
                 userBudget: Bool = true) -> Session.Action? {
        session.received(inbound, at: time, writable: writable, limits: limits, userBudget: { _ in userBudget })
    }

    /// A session that said hello with `cursor` and was let in by the hub (memberships known when `known`).
    func welcomed(cursor: EventCursor? = 100, known: Bool = true) -> (Session, [Session.Action]) {
        var session = Session(limits: limits, now: at(0).monotonic)
        let hello = cursor.map { #"{"type":"hello","id":1,"token":"t","cursor":\#($0)}"# } ?? #"{"type":"hello","id":1,"token":"t"}"#
        #expect(receive(&session, text(hello)) == .authenticate(token: "t"))
        #expect(session.authenticated(.success(alice), at: at(1)) == [.attach(7, session: 1)])
        let actions = session.attached(.attached(membershipKnown: known), at: at(1), limits: limits, maxMessageBytes: 4096)
        return (session, actions)
    }

    func live() -> Session {
        var (session, _) = welcomed(cursor: nil)
        _ = session.headLoaded(100)
        #expect(session.state == .live)
        return session
    }

    // MARK: Every state × every frame kind

    enum Expect: Equatable {
        case nothing, send(String), close(UInt16), authenticate, perform, pong
    }

    func outcome(_ action: Session.Action?) -> Expect {
        switch action {
        case nil: .nothing
        case .send?: .send(action!.sentType ?? "?")
        case .close(let reason, _)?: .close(reason.code)
        case .authenticate?: .authenticate
        case .perform?: .perform
        case .pong?: .pong
        default: .send("unexpected \(String(describing: action))")
        }
    }

    func session(in state: String) -> Session {
        switch state {
        case "awaitingHello":
            return Session(limits: limits, now: at(0).monotonic)
        case "authenticating":
            var session = Session(limits: limits, now: at(0).monotonic)
            _ = receive(&session, text(#"{"type":"hello","token":"t"}"#))
            return session
        case "syncing":
            return welcomed().0
        case "live":
            return live()
        case "closing":
            var session = live()
            _ = session.close(.normal, at: at(2))
            return session
        default:
            var session = live()
            _ = session.disconnected()
            return session
        }
    }

    @Test(arguments: ["awaitingHello", "authenticating", "syncing", "live", "closing", "closed"])
    func everyFrameKind(state: String) {
        let send = text(#"{"type":"send","id":2,"conversation_id":1,"client_id":"c","text":"hi"}"#)
        let inputs: [(String, Inbound)] = [
            ("hello", text(#"{"type":"hello","token":"t"}"#)), ("send", send), ("malformed", text("{nope")),
            ("binary", .binary), ("ping", .ping(ByteBuffer(string: "p"))), ("pong", .pong), ("close", .close),
            ("violation", .violation(.tooLarge)), ("fragment", .fragment),
        ]
        let expected: [String: [String: Expect]] = [
            "awaitingHello": [
                "hello": .authenticate, "send": .close(4400), "malformed": .close(4400), "binary": .close(1003),
                "ping": .pong, "pong": .nothing, "close": .close(1000), "violation": .close(1009),
                "fragment": .nothing,
            ],
            "authenticating": [
                "hello": .send("reply"), "send": .send("reply"), "malformed": .send("reply"), "binary": .close(1003),
                "ping": .pong, "pong": .nothing, "close": .close(1000), "violation": .close(1009),
                "fragment": .nothing,
            ],
            "syncing": [
                "hello": .send("reply"), "send": .perform, "malformed": .send("reply"), "binary": .close(1003),
                "ping": .pong, "pong": .nothing, "close": .close(1000), "violation": .close(1009),
                "fragment": .nothing,
            ],
            "live": [
                "hello": .send("reply"), "send": .perform, "malformed": .send("reply"), "binary": .close(1003),
                "ping": .pong, "pong": .nothing, "close": .close(1000), "violation": .close(1009),
                "fragment": .nothing,
            ],
            "closing": Dictionary(uniqueKeysWithValues: inputs.map { ($0.0, Expect.nothing) }),
            "closed": Dictionary(uniqueKeysWithValues: inputs.map { ($0.0, Expect.nothing) }),
        ]
        for (name, inbound) in inputs {
            var session = session(in: state)
            #expect(outcome(receive(&session, inbound)) == expected[state]![name]!, "\(state) × \(name)")
        }
    }

    @Test func aPingIsNotAnsweredWhileTheSocketIsFull() {
        var session = live()
        #expect(receive(&session, .ping(ByteBuffer()), writable: false) == nil)
    }

    // MARK: Hello

    @Test func aRejectedTokenGetsAReplyThenA4401() {
        var session = Session(limits: limits, now: at(0).monotonic)
        _ = receive(&session, text(#"{"type":"hello","id":"h","token":"bad"}"#))
        let actions = session.authenticated(.failure(ChatError(.unauthorized, "no")), at: at(1))
        #expect(actions.count == 2)
        #expect(actions.first?.sentType == "reply")
        #expect(actions.last?.closeCode == 4401)
        #expect(actions.last == .close(.unauthorized("invalid access token"), leaving: nil), "not in the hub yet")
    }

    @Test func anExpiredTokenIsRefused() {
        var session = Session(limits: limits, now: at(0).monotonic)
        _ = receive(&session, text(#"{"type":"hello","token":"t"}"#))
        var expired = alice
        expired.expiresAt = at(1).wall
        #expect(session.authenticated(.success(expired), at: at(1)) == [.close(.unauthorized("access token expired"), leaving: nil)])
    }

    @Test func tooManyConnectionsCloses() {
        var session = Session(limits: limits, now: at(0).monotonic)
        _ = receive(&session, text(#"{"type":"hello","token":"t"}"#))
        _ = session.authenticated(.success(alice), at: at(1))
        #expect(session.attached(.tooManyConnections, at: at(1), limits: limits, maxMessageBytes: 4096).map(\.closeCode) == [4429])
        #expect(!session.isInHub)
    }

    // MARK: Replay

    @Test func aFirstConnectionLoadsMembershipsThenReplaysFromItsCursor() {
        var (session, actions) = welcomed(cursor: 100, known: false)
        #expect(actions.count == 2)
        #expect(actions[0].sentType == "welcome")
        #expect(actions[1] == .loadMemberships(7))
        #expect(session.membershipsLoaded(conversations: [1, 2], head: 150) == [
            .indexMemberships(7, conversations: [1, 2], head: 150), .continueReplay,
        ])
        #expect(session.membershipsLoaded(conversations: [1], head: 150) == [], "only the first answer counts")
        #expect(session.nextPage(writable: true) == .readPage(user: 7, after: 100))
    }

    @Test func theNextPageWaitsForTheSocketToDrain() {
        var (session, actions) = welcomed(cursor: 100)
        #expect(actions.last == .continueReplay)
        #expect(session.nextPage(writable: false) == nil)
        #expect(session.nextPage(writable: false) == nil)
        #expect(session.nextPage(writable: true) == .readPage(user: 7, after: 100))
        #expect(session.nextPage(writable: true) == nil, "one page at a time")
        let page = session.pageLoaded(.events([event(101), event(102)], cursor: 102, hasMore: true))
        #expect(page.count == 3)
        #expect(page.last == .continueReplay)
        #expect(session.nextPage(writable: true) == .readPage(user: 7, after: 102))
        let last = session.pageLoaded(.events([event(103)], cursor: 110, hasMore: false))
        #expect(last.map(\.sentType) == [nil, "synced"])
        #expect(last.last == .send(#"{"type":"synced","cursor":110}"#))
        #expect(session.state == .live)
        #expect(session.cursor == 110)
    }

    @Test func aClientWithoutACursorStartsAtTheHead() {
        var (session, actions) = welcomed(cursor: nil)
        #expect(actions.last == .readHead)
        #expect(session.headLoaded(42) == [.send(#"{"type":"synced","cursor":42}"#)])
        #expect(session.live(cursor: 42, frame: ByteBuffer()) == .skip)
        #expect(session.live(cursor: 43, frame: ByteBuffer()) == .write)
    }

    @Test func aCursorOutsideTheLogIsToldToReset() {
        var (session, _) = welcomed(cursor: 5)
        _ = session.nextPage(writable: true)
        let actions = session.pageLoaded(.resetRequired(head: 90, oldestAvailable: 50))
        #expect(actions.map(\.sentType) == ["reset_required", "synced"])
        #expect(session.cursor == 90)
    }

    @Test func liveEventsDuringTheReplayAreHeldAndSentOnceAfterIt() {
        var (session, _) = welcomed(cursor: 100)
        _ = session.nextPage(writable: true)
        #expect(session.live(cursor: 101, frame: ByteBuffer(string: "101")) == .held)
        #expect(session.live(cursor: 103, frame: ByteBuffer(string: "103")) == .held)
        #expect(session.live(cursor: 100, frame: ByteBuffer(string: "100")) == .skip)
        let actions = session.pageLoaded(.events([event(101), event(102)], cursor: 102, hasMore: false))
        #expect(actions.count == 4, "two replayed, synced, one held newer than the replay")
        #expect(actions[3] == .replay(ByteBuffer(string: "103")))
        #expect(session.cursor == 103)
    }

    @Test func answersForAnotherStepAreIgnored() {
        var (session, _) = welcomed(cursor: 100)
        #expect(session.pageLoaded(.events([event(101)], cursor: 101, hasMore: false)) == [], "no page was asked for")
        #expect(session.headLoaded(500) == [])
        var live = live()
        #expect(live.pageLoaded(.events([event(101)], cursor: 101, hasMore: false)) == [])
        #expect(live.replayFailed(at: at(2)) == nil)
    }

    @Test func aFailedReadClosesWithServerError() {
        var (session, _) = welcomed(cursor: 100)
        #expect(session.replayFailed(at: at(2))?.closeCode == 1011)
    }

    /// More live events arrive during one replay than the session may hold: the held events are dropped, the session
    /// reads the store again, and the replay plus what is held afterwards still delivers every event once, in order.
    @Test func heldBufferOverflowFallsBackToTheStore() throws {
        var (session, _) = welcomed(cursor: 100)
        #expect(session.nextPage(writable: true) == .readPage(user: 7, after: 100))
        let live = (101...(100 + Session.maxHeld + 90)).map { EventCursor($0) }
        var decisions: [EventCursor: Session.LiveDecision] = [:]
        for cursor in live {
            decisions[cursor] = session.live(cursor: cursor, frame: ByteBuffer(string: "\(cursor)"))
        }
        #expect(decisions[101] == .held)
        #expect(decisions[EventCursor(100 + Session.maxHeld + 1)] == .skip, "the overflowing event is dropped")

        // Pages come from the store (which holds up to `head` by now) until the session goes live.
        let head = EventCursor(100 + Session.maxHeld + 50)
        var delivered: [EventCursor] = []
        var pages = 0
        var next: EventCursor = 101
        while session.state != .live {
            pages += 1
            let upper = min(next + 99, head)
            let events = next <= upper ? (next...upper).map { event($0) } : []
            let actions = session.pageLoaded(.events(events, cursor: max(upper, next - 1), hasMore: upper < head))
            next = upper + 1
            for action in actions {
                if case .replay(let frame) = action {
                    delivered.append(EventCursor(String(buffer: frame).contains("\"cursor\":") ? cursorOf(frame) : Int64(String(buffer: frame))!))
                }
                if action == .continueReplay {
                    #expect(session.nextPage(writable: true) != nil)
                }
            }
            #expect(pages < 100)
        }
        #expect(pages >= 2)
        #expect(delivered == live, "every event once, in order: \(delivered.count) of \(live.count)")
        #expect(session.live(cursor: live.last! + 1, frame: ByteBuffer()) == .write)
        #expect(session.live(cursor: live.last!, frame: ByteBuffer()) == .skip)
    }

    func cursorOf(_ frame: ByteBuffer) -> EventCursor {
        let text = String(buffer: frame)
        let digits = text.split(separator: "\"cursor\":")[1].prefix { $0.isNumber }
        return EventCursor(digits)!
    }

    // MARK: Admission

    @Test func framesOverTheBudgetAreRefusedThenClosed() {
        var session = live()
        let ping = text(#"{"type":"ping","id":9}"#)
        for _ in 0..<limits.frameBurst {
            #expect(receive(&session, ping, at: at(2))?.sentType == "reply")
        }
        let refused = receive(&session, ping, at: at(2))
        #expect(refused.map { if case .send(let s) = $0 { s.contains("\"status\":429") && s.contains("\"id\":9") } else { false } } == true)
        for _ in 1..<limits.frameBurst { _ = receive(&session, ping, at: at(2)) }
        #expect(receive(&session, ping, at: at(2))?.closeCode == 4429)
    }

    @Test func theBudgetRefillsWithTime() {
        var session = live()
        let ping = text(#"{"type":"ping"}"#)
        for _ in 0...limits.frameBurst { _ = receive(&session, ping, at: at(2)) }
        // One second later, `framesPerSecond` frames are admitted again.
        let later = receive(&session, ping, at: at(3))
        #expect(later.map { if case .send(let s) = $0 { s.contains("\"status\":200") } else { false } } == true)
    }

    @Test func theUsersBudgetRefusesToo() {
        var session = live()
        let refused = receive(&session, text(#"{"type":"ping"}"#), userBudget: false)
        #expect(refused.map { if case .send(let s) = $0 { s.contains("\"status\":429") } else { false } } == true)
    }

    @Test func theUsersBudgetAloneNeverClosesTheConnection() {
        var session = live()
        // Ten frames a second, within this connection's own budget, while the user's other devices used up theirs.
        for index in 0..<(limits.frameBurst * 3) {
            let action = receive(&session, text(#"{"type":"ping"}"#), at: at(2 + Double(index) / 10), userBudget: false)
            #expect(action?.closeCode == nil)
            #expect(action.map { if case .send(let s) = $0 { s.contains("\"status\":429") } else { false } } == true)
        }
    }

    @Test func aFragmentShowsThePeerIsAlive() {
        var session = live()
        let heartbeat = Double(limits.heartbeatSeconds)
        #expect(receive(&session, .fragment, at: at(heartbeat)) == nil)
        #expect(session.tick(at: at(heartbeat + 1), limits: limits) == nil, "heard a second ago: no ping yet")
    }

    @Test func everyFrameTakesFromTheConnectionsBudgetBeforeHelloToo() {
        var session = Session(limits: limits, now: at(0).monotonic)
        var closedAt: Int?
        for index in 0..<(limits.frameBurst * 3) {
            let action = receive(&session, index.isMultiple(of: 2) ? .fragment : .ping(ByteBuffer()), at: at(0.5))
            if action?.closeCode == 4429 {
                closedAt = index
                break
            }
        }
        #expect(closedAt == limits.frameBurst * 2, "a burst admitted, then a burst of refusals, then the close")
    }

    @Test func aFrameThatBreaksTheProtocolClosesWithItsCode() {
        var session = live()
        #expect(receive(&session, .violation(.reservedBits))?.closeCode == 1002)
        var other = live()
        #expect(receive(&other, .violation(.invalidUTF8))?.closeCode == 1007)
    }

    @Test func aSessionThatEndedWhileItsTokenWasCheckedClosesAtAttach() {
        var session = Session(limits: limits, now: at(0).monotonic)
        _ = receive(&session, text(#"{"type":"hello","id":1,"token":"t"}"#))
        _ = session.authenticated(.success(alice), at: at(1))
        let actions = session.attached(.sessionEnded("logout"), at: at(1), limits: limits, maxMessageBytes: 4096)
        #expect(actions.map(\.closeCode) == [4401])
    }

    @Test func aRevokedSessionClosesOnlyItsOwnSocket() {
        var session = live()
        let user = session.identity!.userId
        let mine = session.identity!.sessionId
        #expect(session.revoked(SessionRevocation(user: user, session: mine.map { $0 + 1 }, reason: "logout"), at: at(2)) == nil)
        #expect(session.revoked(SessionRevocation(user: user + 1, session: mine, reason: "logout"), at: at(2)) == nil)
        let closing = session.revoked(SessionRevocation(user: user, session: mine, reason: "logout"), at: at(2))
        #expect(closing?.closeCode == 4401)
        guard case .close(let reason, _) = closing else { return }
        #expect(reason.reason == "session ended: logout")
        var another = live()
        #expect(another.revoked(SessionRevocation(user: user, session: nil, reason: "disabled"), at: at(2))?.closeCode == 4401,
                "a revocation without a session ends every session of the user")
    }

    // MARK: Clock

    @Test func noHelloInTimeCloses() {
        var session = Session(limits: limits, now: at(0).monotonic)
        #expect(session.tick(at: at(Double(limits.helloTimeoutSeconds) - 1), limits: limits) == nil)
        #expect(session.tick(at: at(Double(limits.helloTimeoutSeconds)), limits: limits)?.closeCode == 4408)
    }

    @Test func aSilentClientIsPingedThenClosed() {
        var session = live()
        let heartbeat = Double(limits.heartbeatSeconds)
        #expect(session.tick(at: at(heartbeat), limits: limits) == nil, "heard at 1 s")
        #expect(session.tick(at: at(heartbeat + 1), limits: limits) == .ping)
        #expect(session.tick(at: at(heartbeat + 2), limits: limits) == nil, "one ping per period")
        _ = receive(&session, .pong, at: at(heartbeat + 3))
        #expect(session.tick(at: at(heartbeat + 4), limits: limits) == nil)
        #expect(session.tick(at: at(heartbeat + 3 + Double(limits.timeoutSeconds)), limits: limits)?.closeCode == 4408)
    }

    @Test func anExpiredTokenAsksForAFreshOneThenCloses() {
        var session = live()
        let expiry = Double(alice.expiresAt - at(0).wall) / 1000
        _ = receive(&session, .pong, at: at(expiry - 1))
        #expect(session.tick(at: at(expiry), limits: limits)?.sentType == "reauthenticate")
        #expect(session.tick(at: at(expiry + 1), limits: limits) == nil)
        var fresh = alice
        fresh.expiresAt += 900_000
        #expect(session.reauthenticated(.success(fresh), id: .number(3))?.sentType == "reply")
        #expect(session.tick(at: at(expiry + Double(limits.reauthGraceSeconds)), limits: limits)?.closeCode == nil,
                "the fresh token holds past the grace period")
        #expect(session.reauthenticated(.success(Identity(userId: 8, sessionId: nil, expiresAt: fresh.expiresAt)), id: nil)
            .map { if case .send(let s) = $0 { s.contains("\"status\":403") } else { false } } == true)
    }

    @Test func withoutAFreshTokenTheSessionCloses() {
        var session = live()
        let expiry = Double(alice.expiresAt - at(0).wall) / 1000
        _ = receive(&session, .pong, at: at(expiry - 1))
        _ = session.tick(at: at(expiry), limits: limits)
        _ = receive(&session, .pong, at: at(expiry + Double(limits.reauthGraceSeconds)))
        #expect(session.tick(at: at(expiry + Double(limits.reauthGraceSeconds)), limits: limits)?.closeCode == 4401)
    }

    @Test func aCloseThatDoesNotGoOutIsAborted() {
        var session = live()
        #expect(session.close(.goingAway, at: at(10)) == .close(.goingAway, leaving: Session.Departure(user: 7, watching: [])))
        #expect(session.close(.goingAway, at: at(10)) == nil, "once")
        #expect(session.tick(at: at(14), limits: limits) == nil)
        #expect(session.tick(at: at(15), limits: limits) == .abort)
        #expect(session.disconnected() == .disconnected(leaving: nil), "it left the hub when it started closing")
        #expect(session.disconnected() == nil)
    }

    // MARK: Presence and the hub

    @Test func aSessionLeavesTheHubWithTheUsersItWatched() {
        var session = live()
        let ask = receive(&session, text(#"{"type":"presence.subscribe","id":4,"user_ids":[8,9]}"#))
        #expect(ask == .checkPresence(users: [8, 9], viewer: 7, id: .number(4)))
        let visible = [PresenceVisibility(userId: 8, lastSeen: nil)]
        #expect(session.presenceChecked(.success(visible), id: .number(4)) == .watch(visible: visible, id: .number(4)))
        #expect(session.watched([PresenceState(userId: 8, online: true)], id: .number(4)).sentType == "reply")
        #expect(session.watching == [8])
        #expect(session.disconnected() == .disconnected(leaving: Session.Departure(user: 7, watching: [8])))
    }

    @Test func unwatchingForgetsTheUser() {
        var session = live()
        _ = session.watched([PresenceState(userId: 8, online: true), PresenceState(userId: 9, online: false)], id: nil)
        let action = receive(&session, text(#"{"type":"presence.unsubscribe","user_ids":[8]}"#))
        guard case .unwatch(let users, _) = action else {
            Issue.record("expected unwatch, got \(String(describing: action))")
            return
        }
        #expect(users == [8])
        #expect(session.watching == [9])
    }

    @Test func typingIsAnsweredOnlyWhenAskedOrRefused() {
        let session = live()
        #expect(session.typed(member: true, conversation: 1, id: nil) == nil)
        #expect(session.typed(member: true, conversation: 1, id: .number(1))?.sentType == "reply")
        #expect(session.typed(member: false, conversation: 1, id: nil)
            .map { if case .send(let s) = $0 { s.contains("\"status\":404") } else { false } } == true)
    }
}
