import ChatCore
import NIOCore
import Testing

@testable import ChatRealtime

/// The session's replay-to-live switch when more live events arrive during one replay than it may hold: the held
/// events are dropped, the session asks to read the store again, and the replay plus what is held afterwards still
/// delivers every event once, in order.
@Suite struct SessionTests {
    @Test func heldBufferOverflowFallsBackToTheStore() throws {
        var session = Session(limits: RealtimeLimits(), now: .now())
        let hello = try ClientFrame.parse(Array(#"{"type":"hello","token":"t","cursor":100}"#.utf8)).get()
        guard case .authenticate = session.received(hello) else {
            Issue.record("a hello asks for authentication")
            return
        }
        session.authenticated(SessionIdentity(userId: 1, sessionId: nil, expiresAt: Clock.nowMillis() + 60_000))
        #expect(session.phase == .syncing)

        // The first page is read (events 101–110), while live events 101… keep arriving: more than the session holds.
        session.readingPage()
        let live = (101...(100 + Session.maxHeld + 90)).map { EventCursor($0) }
        var decisions: [EventCursor: Session.LiveDecision] = [:]
        for cursor in live {
            decisions[cursor] = session.live(cursor: cursor, frame: ByteBuffer(string: "\(cursor)"))
        }
        #expect(decisions[101] == .held)
        #expect(decisions[EventCursor(100 + Session.maxHeld + 1)] == .skip, "the overflowing event is dropped")
        #expect(session.mustReadAgain)

        // Pages replay from the store until the session no longer needs to read again.
        var delivered: [EventCursor] = []
        var pages = 0
        let head = EventCursor(100 + Session.maxHeld + 50)  // what the store holds by the time the pages are read
        var next: EventCursor = 101
        repeat {
            session.readingPage()
            pages += 1
            let page = next...min(next + 99, head)
            for cursor in page where session.replayed(cursor) { delivered.append(cursor) }
            next = page.upperBound + 1
            session.advance(to: page.upperBound)
        } while next <= head || session.mustReadAgain
        let held = session.finishSync().map { EventCursor(String(buffer: $0))! }
        delivered += held

        #expect(session.phase == .live)
        #expect(pages >= 2)
        #expect(delivered == live, "every event once, in order: \(delivered.count) of \(live.count)")
        // After the switch, live events go straight out, and old ones are skipped.
        #expect(session.live(cursor: live.last! + 1, frame: ByteBuffer()) == .write)
        #expect(session.live(cursor: live.last!, frame: ByteBuffer()) == .skip)
    }
}
