import ChatCore
import NIOCore
import Synchronization

/// What the hub needs of a connection: its event loop, and a way to take a batch of frames there.
protocol HubConnection: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    /// Writes a batch of the hub's deliveries; called on the connections' `eventLoop`.
    static func deliver(_ batch: [HubDelivery<Self>])
    /// A session of the connection's user ended; called on its `eventLoop`.
    func revoked(_ revocation: SessionRevocation)
}

/// The in-memory hub (what Redis pub/sub and presence were in the cloud design): `HubState` behind one lock, held
/// only for map lookups and updates. Frames are encoded before taking it; what a change returns to deliver is handed
/// to each connection's event loop, one task per loop per change.
///
/// Nothing in it survives a restart and nothing needs to: every durable fact is in the store, and a client that
/// reconnects resumes from its cursor.
final class Hub<Connection: HubConnection>: Sendable {
    private let state: Mutex<HubState<Connection>>

    init(limits: RealtimeLimits) {
        state = Mutex(HubState(limits: limits))
    }

    /// Registers an authenticated connection. Presence notices are handed to the loops inside the lock (`execute`
    /// only enqueues), so a user's offline and online reach each watcher in the order they happened.
    func attach(_ connection: Connection, user: UserID, session: SessionID?) -> Attachment {
        state.withLock { state in
            let (attachment, notices) = state.attach(connection, user: user, session: session)
            Self.dispatch(notices)
            return attachment
        }
    }

    func membershipLoaded(_ connection: Connection, user: UserID, conversations: [ConversationID], head: EventCursor) {
        state.withLock { $0.membershipLoaded(connection, user: user, conversations: conversations, head: head) }
    }

    func detach(_ connection: Connection, user: UserID, watching: [UserID]) {
        state.withLock { state in
            Self.dispatch(state.detach(connection, user: user, watching: watching, now: Clock.nowMillis()))
        }
    }

    func allowFrame(user: UserID, now: Double) -> Bool {
        state.withLock { $0.allowFrame(user: user, now: now) }
    }

    /// Fans committed events out (see `HubState.publish`). Each event's frame is encoded once, outside the lock.
    func publish(_ events: [Event]) {
        let changes = MembershipChanges.of(events)
        let published = zip(events, changes).map { event, change in
            PublishedEvent(
                cursor: event.cursor, conversation: event.conversationId, audience: event.audienceUserId,
                frame: ByteBuffer(string: ServerFrame.event(event)), membership: change)
        }
        Self.dispatch(state.withLock { $0.publish(published) })
    }

    /// Tells each connection of the revocation's user (each decides whether it is one of the ended sessions).
    func revoke(_ revocation: SessionRevocation) {
        let connections = state.withLock { $0.revoke(revocation, now: Clock.nowMillis()) }
        for connection in connections {
            connection.eventLoop.execute { connection.revoked(revocation) }
        }
    }

    func typing(user: UserID, conversation: ConversationID, active: Bool, now: Millis) -> Bool {
        let (member, notices) = state.withLock {
            $0.typing(user: user, conversation: conversation, active: active, now: now)
        }
        Self.dispatch(notices)
        return member
    }

    func sweep(now: Millis) {
        Self.dispatch(state.withLock { $0.sweep(now: now) })
    }

    func watch(_ connection: Connection, visible: [PresenceVisibility]) -> [PresenceState] {
        state.withLock { $0.watch(connection, visible: visible) }
    }

    func unwatch(_ connection: Connection, users: [UserID]) {
        state.withLock { $0.unwatch(connection, users: users) }
    }

    /// Of `users`, those with at least one authenticated connection now.
    func connected(among users: [UserID]) -> Set<UserID> {
        state.withLock { state in Set(users.filter { state.users[$0] != nil }) }
    }

    var usersOnline: Int {
        state.withLock { $0.users.count }
    }

    func takeLastSeen() -> [UserID: Millis] {
        state.withLock { $0.takeLastSeen() }
    }

    func restoreLastSeen(_ times: [UserID: Millis]) {
        state.withLock { $0.restoreLastSeen(times) }
    }

    /// Hands deliveries to the connections' event loops: one task per loop, each writing all its frames and then
    /// flushing every connection it wrote to once.
    private static func dispatch(_ deliveries: [HubDelivery<Connection>]) {
        guard !deliveries.isEmpty else { return }
        var byLoop: [(loop: any EventLoop, deliveries: [HubDelivery<Connection>])] = []
        for delivery in deliveries {
            if let index = byLoop.firstIndex(where: { $0.loop === delivery.connection.eventLoop }) {
                byLoop[index].deliveries.append(delivery)
            } else {
                byLoop.append((delivery.connection.eventLoop, [delivery]))
            }
        }
        for (loop, batch) in byLoop {
            loop.execute { Connection.deliver(batch) }
        }
    }
}

/// The seam between the store and the hub: the store hands each batch of committed events to an `EventPublisher`;
/// this one fans them out to the sockets of this process (and ended sessions to theirs). A cluster (Redis or NATS) would publish the same batch to
/// the other instances here and feed what they publish into their own hubs.
struct LocalFanout<Connection: HubConnection>: EventPublisher, SessionRevocationPublisher {
    let hub: Hub<Connection>
    let stats: RealtimeStats

    func publish(_ events: [Event]) {
        let start = ContinuousClock.now
        hub.publish(events)
        stats.fannedOut(in: start.duration(to: .now))
    }

    func revoked(_ revocation: SessionRevocation) {
        hub.revoke(revocation)
    }
}
