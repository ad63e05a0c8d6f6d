import ChatCore
import NIOCore
import Synchronization

/// The in-memory hub (what Redis pub/sub and presence were in the cloud design): which users are online on which
/// connections, which online users are in which conversation, presence subscriptions and typing.
///
/// Nothing in it survives a restart and nothing needs to: every durable fact is in the store, and a client that
/// reconnects resumes from its cursor. All state sits behind one lock, held only for map lookups and updates; frames
/// are encoded before taking it and written after releasing it, on each connection's event loop.
public final class Hub: EventPublisher {
    let limits: RealtimeLimits
    private let state = Mutex(HubState())

    public init(limits: RealtimeLimits) {
        self.limits = limits
    }

    // MARK: Connections

    enum Attachment: Equatable {
        /// Attached; `membershipKnown` is false when this is the user's first connection and their conversations
        /// must be loaded (`membershipLoaded`) before live events of those conversations can reach them.
        case attached(membershipKnown: Bool)
        case tooManyConnections
    }

    /// Registers an authenticated connection. The user's first connection makes them online.
    func attach(_ connection: WebSocketConnection, user: UserID) -> Attachment {
        // Presence notices are handed to the loops inside the lock (`execute` only enqueues), so a user's
        // offline and online reach each watcher in the order they happened.
        state.withLock { state -> Attachment in
            if let entry = state.users[user] {
                guard entry.connections.count < limits.maxConnectionsPerUser else { return .tooManyConnections }
                state.users[user]!.connections.append(connection)
                return .attached(membershipKnown: entry.conversations != nil)
            }
            state.users[user] = UserEntry(connection: connection, limits: limits)
            Self.dispatch(state.presenceNotices(user: user, online: true, lastSeen: nil))
            return .attached(membershipKnown: false)
        }
    }

    /// The user's conversations as of `head`. Membership changes the hub saw while they were loading are applied on
    /// top when they are newer than `head`. Only the first answer counts; later ones (from other devices) are ignored.
    func membershipLoaded(
        _ connection: WebSocketConnection, user: UserID, conversations: [ConversationID], head: EventCursor
    ) {
        state.withLock { state in
            guard let entry = state.users[user], entry.conversations == nil,
                entry.connections.contains(where: { $0 === connection })
            else { return }
            var known = Set(conversations)
            for change in entry.pendingChanges where change.cursor > head {
                if change.joined { known.insert(change.conversation) } else { known.remove(change.conversation) }
            }
            state.users[user]!.conversations = known
            state.users[user]!.pendingChanges = []
            for conversation in known { state.online[conversation, default: []].insert(user) }
        }
    }

    /// Removes a connection (closed for any reason) and the presence subscriptions it held. The user's last
    /// connection makes them offline and records their `last_seen`.
    func detach(_ connection: WebSocketConnection, user: UserID, watching: [UserID]) {
        state.withLock { state in
            for target in watching {
                state.watchers[target]?.removeAll { $0 === connection }
                if state.watchers[target]?.isEmpty == true { state.watchers[target] = nil }
            }
            guard var entry = state.users[user] else { return }
            entry.connections.removeAll { $0 === connection }
            guard entry.connections.isEmpty else {
                state.users[user] = entry
                return
            }
            state.users[user] = nil
            if state.users.isEmpty { state.releaseCapacity() }
            for conversation in entry.conversations ?? [] {
                state.online[conversation]?.remove(user)
                if state.online[conversation]?.isEmpty == true { state.online[conversation] = nil }
            }
            let now = Clock.nowMillis()
            state.lastSeenToSave[user] = now
            Self.dispatch(state.presenceNotices(user: user, online: false, lastSeen: now))
            Self.dispatch(state.stopTyping(user: user, limits: limits))
        }
    }

    /// Whether `user` may send another frame now (their frames over all their connections).
    func allowFrame(user: UserID, now: NIODeadline) -> Bool {
        state.withLock { state in
            state.users[user]?.frames.take(now: now, perSecond: limits.userFramesPerSecond, burst: limits.frameBurst * 2)
                ?? true
        }
    }

    // MARK: Events

    /// Fans committed events out to every connection of every member (the sender's other devices included), in
    /// cursor order. Each event's frame is encoded once; membership changes apply before their own event is sent,
    /// so a newcomer gets their `member.added` and a removed member does not get the others'.
    public func publish(_ events: [Event]) {
        let frames = events.map { ByteBuffer(string: ServerFrame.event($0)) }
        let deliveries = state.withLock { state -> [Delivery] in
            var deliveries: [Delivery] = []
            for (event, frame) in zip(events, frames) {
                if let change = event.membership, let conversation = event.conversationId {
                    state.apply(change, conversation: conversation, cursor: event.cursor)
                }
                if let audience = event.audienceUserId {
                    for connection in state.users[audience]?.connections ?? [] {
                        deliveries.append(Delivery(connection: connection, frame: frame, cursor: event.cursor))
                    }
                } else if let conversation = event.conversationId, let members = state.online[conversation] {
                    for member in members {
                        for connection in state.users[member]?.connections ?? [] {
                            deliveries.append(Delivery(connection: connection, frame: frame, cursor: event.cursor))
                        }
                    }
                }
            }
            return deliveries
        }
        Self.dispatch(deliveries)
    }

    // MARK: Typing

    /// A member starts or stops typing. Starts are forwarded at most once per throttle period per sender and
    /// conversation; a start not refreshed within the TTL stops by itself (`sweep`). Returns false when the user
    /// is not a member of the conversation.
    func typing(user: UserID, conversation: ConversationID, active: Bool, now: Millis) -> Bool {
        let (member, notices) = state.withLock { state -> (Bool, [Delivery]) in
            guard let entry = state.users[user] else { return (false, []) }
            // Memberships still loading (between welcome and synced): accepted, not forwarded yet.
            guard let conversations = entry.conversations else { return (true, []) }
            guard conversations.contains(conversation) else { return (false, []) }
            let key = TypingKey(conversation: conversation, user: user)
            if active {
                if let current = state.typing[key], now - current.forwardedAt < Millis(limits.typingThrottleMillis) {
                    state.typing[key]!.expiresAt = now + Millis(limits.typingTTLMillis)
                    return (true, [])
                }
                state.typing[key] = Typing(forwardedAt: now, expiresAt: now + Millis(limits.typingTTLMillis))
            } else {
                guard state.typing.removeValue(forKey: key) != nil else { return (true, []) }
            }
            return (true, state.typingNotices(key, active: active, limits: limits))
        }
        Self.dispatch(notices)
        return member
    }

    /// Ends typing that was not refreshed in time. Called by the gateway's housekeeping about once a second.
    func sweepTyping(now: Millis) {
        let notices = state.withLock { state -> [Delivery] in
            let expired = state.typing.filter { $0.value.expiresAt <= now }.map(\.key)
            var notices: [Delivery] = []
            for key in expired {
                state.typing[key] = nil
                notices += state.typingNotices(key, active: false, limits: limits)
            }
            return notices
        }
        Self.dispatch(notices)
    }

    // MARK: Presence

    /// Subscribes a connection to the presence of users it may see (already checked against the store) and
    /// returns their current state.
    func watch(_ connection: WebSocketConnection, visible: [(UserID, Millis?)]) -> [PresenceState] {
        state.withLock { state in
            visible.map { user, storedLastSeen in
                if state.watchers[user]?.contains(where: { $0 === connection }) != true {
                    state.watchers[user, default: []].append(connection)
                }
                let online = state.users[user] != nil
                return PresenceState(
                    userId: user, online: online,
                    lastSeen: online ? nil : state.lastSeenToSave[user] ?? storedLastSeen)
            }
        }
    }

    func unwatch(_ connection: WebSocketConnection, users: [UserID]) {
        state.withLock { state in
            for user in users {
                state.watchers[user]?.removeAll { $0 === connection }
                if state.watchers[user]?.isEmpty == true { state.watchers[user] = nil }
            }
        }
    }

    /// The last-seen times recorded since the previous call, for the store (batched writes).
    func takeLastSeen() -> [UserID: Millis] {
        state.withLock { state in
            defer { state.lastSeenToSave = [:] }
            return state.lastSeenToSave
        }
    }

    /// Puts back last-seen times that could not be saved, unless a newer one was recorded meanwhile.
    func restoreLastSeen(_ times: [UserID: Millis]) {
        state.withLock { state in state.lastSeenToSave.merge(times) { newer, _ in newer } }
    }

    // MARK: Introspection

    public struct Counts: Sendable, Equatable {
        public var users: Int
        public var connections: Int
        public var conversations: Int
    }

    /// How many users and connections are online, and how many conversations have an online member.
    public var counts: Counts {
        state.withLock { state in
            Counts(
                users: state.users.count, connections: state.users.values.reduce(0) { $0 + $1.connections.count },
                conversations: state.online.count)
        }
    }

    // MARK: Delivery

    /// One frame for one connection; `cursor` is nil for ephemeral frames (typing, presence), which are dropped
    /// first when the connection falls behind.
    struct Delivery: Sendable {
        let connection: WebSocketConnection
        let frame: ByteBuffer
        let cursor: EventCursor?
    }

    /// Hands deliveries to the connections' event loops: one task per loop, each writing all its frames and then
    /// flushing every connection it wrote to once.
    static func dispatch(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        var byLoop: [(loop: any EventLoop, deliveries: [Delivery])] = []
        for delivery in deliveries {
            if let index = byLoop.firstIndex(where: { $0.loop === delivery.connection.eventLoop }) {
                byLoop[index].deliveries.append(delivery)
            } else {
                byLoop.append((delivery.connection.eventLoop, [delivery]))
            }
        }
        for (loop, batch) in byLoop {
            loop.execute { WebSocketConnection.deliver(batch) }
        }
    }
}
