import ChatCore
import NIOCore
import Testing

@testable import ChatRealtime

/// The hub's decisions, with plain objects for connections and explicit times.
@Suite struct HubStateTests {
    final class Connection {
        let name: String
        init(_ name: String) { self.name = name }
    }

    typealias State = HubState<Connection>
    var limits = RealtimeLimits()

    func published(_ events: [Event]) -> [PublishedEvent] {
        zip(events, MembershipChanges.of(events)).map { event, change in
            PublishedEvent(
                cursor: event.cursor, conversation: event.conversationId, audience: event.audienceUserId,
                frame: ByteBuffer(string: "\(event.cursor)"), membership: change)
        }
    }

    func names(_ deliveries: [State.Delivery]) -> [String] {
        deliveries.map { "\($0.connection.name):\(String(buffer: $0.frame))" }
    }

    /// `user` online on `connection` with `conversations` loaded.
    func online(_ state: inout State, _ connection: Connection, user: UserID, in conversations: [ConversationID]) {
        _ = state.attach(connection, user: user)
        state.membershipLoaded(connection, user: user, conversations: conversations, head: 0)
    }

    @Test func eventsReachEveryConnectionOfEveryOnlineMember() {
        var state = State(limits: limits)
        let (phone, laptop, bob, carol) = (Connection("phone"), Connection("laptop"), Connection("bob"), Connection("carol"))
        online(&state, phone, user: 1, in: [10])
        online(&state, laptop, user: 1, in: [10])
        online(&state, bob, user: 2, in: [10])
        online(&state, carol, user: 3, in: [11])
        let deliveries = state.publish(published([event(5, conversation: 10)]))
        #expect(Set(deliveries.map(\.connection.name)) == ["phone", "laptop", "bob"])
        #expect(deliveries.allSatisfy { $0.cursor == 5 })
        let mine = state.publish(published([event(6, .conversationSettings, conversation: 10, audience: 2)]))
        #expect(mine.map(\.connection.name) == ["bob"], "an event for one user reaches only them")
    }

    @Test func aUserHasAtMostTheirConnectionLimit() {
        var limits = limits
        limits.maxConnectionsPerUser = 2
        var state = State(limits: limits)
        #expect(state.attach(Connection("a"), user: 1).0 == .attached(membershipKnown: false))
        #expect(state.attach(Connection("b"), user: 1).0 == .attached(membershipKnown: false), "still loading")
        #expect(state.attach(Connection("c"), user: 1).0 == .tooManyConnections)
    }

    @Test func membershipChangesComeFromTheEventsData() {
        var state = State(limits: limits)
        let (alice, bob) = (Connection("alice"), Connection("bob"))
        online(&state, alice, user: 1, in: [])
        online(&state, bob, user: 2, in: [])
        let created = event(
            1, .conversationCreated, conversation: 10,
            data: #"{"conversation":{"created_at":1,"id":10,"kind":"group"},"member_ids":[1,2]}"#)
        #expect(Set(state.publish(published([created])).map(\.connection.name)) == ["alice", "bob"])
        let removed = event(2, .memberRemoved, conversation: 10, data: #"{"by":1,"user_id":2}"#)
        let notice = event(3, .memberRemoved, conversation: 10, audience: 2, data: #"{"by":1,"user_id":2}"#)
        let after = event(4, conversation: 10)
        let deliveries = state.publish(published([removed, notice, after]))
        #expect(names(deliveries).sorted() == ["alice:2", "alice:4", "bob:3"], "bob gets his own removal, then nothing")
        #expect(state.online[10] == [1])
    }

    @Test func newcomersAddedTogetherEachGetEveryNewcomersEvent() {
        var state = State(limits: limits)
        let (owner, bob, carol) = (Connection("owner"), Connection("bob"), Connection("carol"))
        online(&state, owner, user: 1, in: [10])
        online(&state, bob, user: 2, in: [])
        online(&state, carol, user: 3, in: [])
        let added = [
            event(7, .memberAdded, conversation: 10, data: #"{"by":1,"role":"member","user_id":2}"#),
            event(8, .memberAdded, conversation: 10, data: #"{"by":1,"role":"member","user_id":3}"#),
        ]
        let deliveries = state.publish(published(added))
        #expect(names(deliveries).sorted() == ["bob:7", "bob:8", "carol:7", "carol:8", "owner:7", "owner:8"])
    }

    @Test func changesSeenWhileMembershipsLoadApplyWhenNewer() {
        var state = State(limits: limits)
        let bob = Connection("bob")
        _ = state.attach(bob, user: 2)
        _ = state.publish(published([
            event(5, .memberAdded, conversation: 10, data: #"{"by":1,"user_id":2}"#),
            event(9, .memberAdded, conversation: 11, data: #"{"by":1,"user_id":2}"#),
            event(12, .memberRemoved, conversation: 12, data: #"{"by":1,"user_id":2}"#),
        ]))
        // The store's snapshot at cursor 8 already has conversation 10 and still has 12.
        state.membershipLoaded(bob, user: 2, conversations: [10, 12], head: 8)
        #expect(state.users[2]?.conversations == [10, 11])
        state.membershipLoaded(bob, user: 2, conversations: [99], head: 20)
        #expect(state.users[2]?.conversations == [10, 11], "only the first answer counts")
    }

    @Test func presenceGoesToWatchersAndTheLastDisconnectRecordsLastSeen() {
        var state = State(limits: limits)
        let (watcher, phone, laptop) = (Connection("watcher"), Connection("phone"), Connection("laptop"))
        online(&state, watcher, user: 1, in: [])
        let before = state.watch(watcher, visible: [PresenceVisibility(userId: 2, lastSeen: 111)])
        #expect(before == [PresenceState(userId: 2, online: false, lastSeen: 111)])
        let (_, online) = state.attach(phone, user: 2)
        #expect(names(online) == [#"watcher:{"type":"presence","user_id":2,"online":true}"#])
        #expect(state.attach(laptop, user: 2).1.isEmpty, "a second device changes nothing")
        #expect(state.detach(phone, user: 2, watching: [], now: 500).isEmpty)
        let offline = state.detach(laptop, user: 2, watching: [], now: 600)
        #expect(names(offline).first?.contains("\"online\":false") == true)
        #expect(state.takeLastSeen() == [2: 600])
        #expect(state.takeLastSeen() == [:])
        state.restoreLastSeen([2: 600])
        #expect(state.watch(watcher, visible: [PresenceVisibility(userId: 2, lastSeen: 111)]).first?.lastSeen == 600)
        _ = state.detach(watcher, user: 1, watching: [2], now: 700)
        #expect(state.watchers.isEmpty)
    }

    @Test func anEndedSessionCannotAttachUntilItIsForgotten() {
        var state = State(limits: limits)
        let phone = Connection("phone")
        _ = state.attach(phone, user: 1, session: 5)
        let told = state.revoke(SessionRevocation(user: 1, session: 5, reason: "logout"), now: 1000)
        #expect(told.map(\.name) == ["phone"], "the user's connections are told")
        #expect(state.attach(Connection("late"), user: 1, session: 5).0 == .sessionEnded("logout"))
        #expect(state.attach(Connection("other"), user: 1, session: 6).0 == .attached(membershipKnown: false))
        _ = state.sweep(now: 1000 + State.endedSessionMemory)
        #expect(state.endedSessions.isEmpty)
    }

    @Test func typingIsThrottledExpiresAndStopsWhenTheTyperLeaves() {
        var state = State(limits: limits)
        let (alice, bob) = (Connection("alice"), Connection("bob"))
        online(&state, alice, user: 1, in: [10])
        online(&state, bob, user: 2, in: [10])
        let first = state.typing(user: 1, conversation: 10, active: true, now: 1000)
        #expect(first.member && names(first.notices).map { $0.hasPrefix("bob:") } == [true])
        #expect(state.typing(user: 1, conversation: 10, active: true, now: 1500).notices.isEmpty, "throttled")
        #expect(state.typing(user: 1, conversation: 99, active: true, now: 1500).member == false)
        #expect(state.sweep(now: 1500 + Millis(limits.typingTTLMillis) - 1).isEmpty, "refreshed at 1500")
        let stopped = state.sweep(now: 1500 + Millis(limits.typingTTLMillis))
        #expect(names(stopped).first?.contains("\"state\":\"stop\"") == true)
        _ = state.typing(user: 1, conversation: 10, active: true, now: 20_000)
        let gone = state.detach(alice, user: 1, watching: [], now: 20_001)
        #expect(names(gone).contains { $0.hasPrefix("bob:") && $0.contains("stop") })
        #expect(state.typing.isEmpty)
    }

    @Test func theUsersFrameBudgetSpansTheirConnections() {
        var state = State(limits: limits)
        _ = state.attach(Connection("a"), user: 1)
        _ = state.attach(Connection("b"), user: 1)
        var allowed = 0
        for _ in 0..<(limits.userFrameBurst + 5) where state.allowFrame(user: 1, now: 10) { allowed += 1 }
        #expect(allowed == limits.userFrameBurst)
        let refilled = state.allowFrame(user: 1, now: 11)
        #expect(refilled, "refilled a second later")
    }
}
