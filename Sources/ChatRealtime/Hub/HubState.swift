import ChatCore
import NIOCore

/// The hub's state and every decision it makes: who is online on which connections, which online users are in which
/// conversation, presence subscriptions, typing and the per-user frame budget. A plain value: each change returns the
/// frames to deliver, and `Hub` only locks it and hands those to the connections' event loops. Generic over the
/// connection, so tests drive it with plain objects and explicit times.
struct HubState<Connection: AnyObject> {
    let limits: RealtimeLimits
    /// Online users: each has at least one authenticated connection.
    private(set) var users: [UserID: UserEntry<Connection>] = [:]
    /// Conversation → its online members whose memberships are loaded. Fan-out reads only this.
    private(set) var online: [ConversationID: Set<UserID>] = [:]
    /// User → connections subscribed to their presence.
    private(set) var watchers: [UserID: [Connection]] = [:]
    private(set) var typing: [TypingKey: Typing] = [:]
    /// Last-seen times not yet written to the store.
    private(set) var lastSeenToSave: [UserID: Millis] = [:]
    /// Login sessions ended lately, with why: a socket whose token was checked just before the end must not join
    /// after it. Forgotten after `endedSessionMemory`, by when any such check has long finished.
    private(set) var endedSessions: [SessionID: EndedSession] = [:]
    static var endedSessionMemory: Millis { 60_000 }

    init(limits: RealtimeLimits) {
        self.limits = limits
    }

    typealias Delivery = HubDelivery<Connection>

    // MARK: Connections

    /// Registers an authenticated connection. The user's first connection makes them online and tells their
    /// watchers.
    mutating func attach(_ connection: Connection, user: UserID, session: SessionID? = nil) -> (Attachment, [Delivery]) {
        if let session, let ended = endedSessions[session] { return (.sessionEnded(ended.reason), []) }
        if let entry = users[user] {
            guard entry.connections.count < limits.maxConnectionsPerUser else { return (.tooManyConnections, []) }
            users[user]!.connections.append(connection)
            return (.attached(membershipKnown: entry.conversations != nil), [])
        }
        users[user] = UserEntry(connection: connection, limits: limits)
        return (.attached(membershipKnown: false), presenceNotices(user: user, online: true, lastSeen: nil))
    }

    /// The user's conversations as of `head`. Membership changes seen while they were loading are applied on top
    /// when they are newer than `head`. Only the first answer counts; later ones (from other devices) are ignored,
    /// and so is the answer of a connection that is gone.
    mutating func membershipLoaded(
        _ connection: Connection, user: UserID, conversations: [ConversationID], head: EventCursor
    ) {
        guard let entry = users[user], entry.conversations == nil,
            entry.connections.contains(where: { $0 === connection })
        else { return }
        var known = Set(conversations)
        for change in entry.pendingChanges where change.cursor > head {
            if change.joined { known.insert(change.conversation) } else { known.remove(change.conversation) }
        }
        users[user]!.conversations = known
        users[user]!.pendingChanges = []
        for conversation in known { online[conversation, default: []].insert(user) }
    }

    /// Removes a connection and the presence subscriptions it held. The user's last connection makes them offline
    /// at `now` (kept for the store), tells their watchers and ends their typing.
    mutating func detach(_ connection: Connection, user: UserID, watching: [UserID], now: Millis) -> [Delivery] {
        unwatch(connection, users: watching)
        guard var entry = users[user] else { return [] }
        entry.connections.removeAll { $0 === connection }
        guard entry.connections.isEmpty else {
            users[user] = entry
            return []
        }
        users[user] = nil
        if users.isEmpty { releaseCapacity() }
        for conversation in entry.conversations ?? [] {
            online[conversation]?.remove(user)
            if online[conversation]?.isEmpty == true { online[conversation] = nil }
        }
        lastSeenToSave[user] = now
        return presenceNotices(user: user, online: false, lastSeen: now) + stopTyping(user: user)
    }

    /// Whether `user` may send another frame now (their frames over all their connections).
    mutating func allowFrame(user: UserID, now: Double) -> Bool {
        users[user]?.frames.take(
            now: now, perSecond: Double(limits.userFramesPerSecond), burst: limits.userFrameBurst) ?? true
    }

    // MARK: Events

    /// Committed events, in cursor order, to every connection of every member (the sender's other devices
    /// included). A membership change applies before its own event is sent, so a newcomer gets their `member.added`
    /// and a removed member does not get the others'.
    mutating func publish(_ events: [PublishedEvent]) -> [Delivery] {
        var deliveries: [Delivery] = []
        for event in events {
            if let change = event.membership, let conversation = event.conversation {
                apply(change, conversation: conversation, cursor: event.cursor)
            }
            if let audience = event.audience {
                for connection in users[audience]?.connections ?? [] {
                    deliveries.append(Delivery(connection: connection, frame: event.frame, cursor: event.cursor))
                }
            } else if let conversation = event.conversation, let members = online[conversation] {
                for member in members {
                    for connection in users[member]?.connections ?? [] {
                        deliveries.append(Delivery(connection: connection, frame: event.frame, cursor: event.cursor))
                    }
                }
            }
        }
        return deliveries
    }

    private mutating func apply(_ change: MembershipChange, conversation: ConversationID, cursor: EventCursor) {
        switch change {
        case .joined(let joining):
            for user in joining { setMember(user, of: conversation, joined: true, cursor: cursor) }
        case .left(let user):
            setMember(user, of: conversation, joined: false, cursor: cursor)
            typing[TypingKey(conversation: conversation, user: user)] = nil
        }
    }

    private mutating func setMember(_ user: UserID, of conversation: ConversationID, joined: Bool, cursor: EventCursor) {
        guard users[user] != nil else { return }
        guard users[user]!.conversations != nil else {
            users[user]!.pendingChanges.append(PendingChange(cursor: cursor, conversation: conversation, joined: joined))
            return
        }
        if joined {
            users[user]!.conversations!.insert(conversation)
            online[conversation, default: []].insert(user)
        } else {
            users[user]!.conversations!.remove(conversation)
            online[conversation]?.remove(user)
            if online[conversation]?.isEmpty == true { online[conversation] = nil }
        }
    }

    // MARK: Typing

    /// A member starts or stops typing. Starts are forwarded at most once per throttle period per sender and
    /// conversation; a start not refreshed within the TTL stops by itself (`sweep`). `member` is false when the
    /// user is not a member of the conversation.
    mutating func typing(user: UserID, conversation: ConversationID, active: Bool, now: Millis)
        -> (member: Bool, notices: [Delivery])
    {
        guard let entry = users[user] else { return (false, []) }
        // Memberships still loading (between welcome and synced): accepted, not forwarded yet.
        guard let conversations = entry.conversations else { return (true, []) }
        guard conversations.contains(conversation) else { return (false, []) }
        let key = TypingKey(conversation: conversation, user: user)
        if active {
            if let current = typing[key], now - current.forwardedAt < Millis(limits.typingThrottleMillis) {
                typing[key]!.expiresAt = now + Millis(limits.typingTTLMillis)
                return (true, [])
            }
            typing[key] = Typing(forwardedAt: now, expiresAt: now + Millis(limits.typingTTLMillis))
        } else {
            guard typing.removeValue(forKey: key) != nil else { return (true, []) }
        }
        return (true, typingNotices(key, active: active))
    }

    /// Ends typing that was not refreshed in time.
    /// Once a second: typing that was not refreshed stops; ended sessions past their memory are forgotten.
    mutating func sweep(now: Millis) -> [Delivery] {
        if !endedSessions.isEmpty { endedSessions = endedSessions.filter { $0.value.until > now } }
        return endTyping(typing.filter { $0.value.expiresAt <= now }.map(\.key))
    }

    /// A login session (or all of a user's) ended: the session is remembered (see `endedSessions`), and the user's
    /// connections are returned, for each to close if it is one of them.
    mutating func revoke(_ revocation: SessionRevocation, now: Millis) -> [Connection] {
        if let session = revocation.session {
            endedSessions[session] = EndedSession(reason: revocation.reason, until: now + Self.endedSessionMemory)
        }
        return users[revocation.user]?.connections ?? []
    }

    /// `typing` frames for the conversation's online members other than the typer.
    private func typingNotices(_ key: TypingKey, active: Bool) -> [Delivery] {
        guard let members = online[key.conversation] else { return [] }
        let frame = ByteBuffer(
            string: ServerFrame.typing(
                conversation: key.conversation, user: key.user, active: active,
                expiresInMillis: limits.typingTTLMillis))
        var notices: [Delivery] = []
        for member in members where member != key.user {
            for connection in users[member]?.connections ?? [] {
                notices.append(Delivery(connection: connection, frame: frame, cursor: nil))
            }
        }
        return notices
    }

    /// A user who went offline stops typing everywhere.
    private mutating func stopTyping(user: UserID) -> [Delivery] {
        endTyping(typing.keys.filter { $0.user == user })
    }

    /// Ends these typers' typing and tells the others.
    private mutating func endTyping(_ keys: [TypingKey]) -> [Delivery] {
        var notices: [Delivery] = []
        for key in keys {
            typing[key] = nil
            notices += typingNotices(key, active: false)
        }
        return notices
    }

    // MARK: Presence

    /// Subscribes a connection to the presence of users it may see (already checked against the store) and
    /// returns their current state.
    mutating func watch(_ connection: Connection, visible: [PresenceVisibility]) -> [PresenceState] {
        visible.map { visibility in
            let user = visibility.userId
            if watchers[user]?.contains(where: { $0 === connection }) != true {
                watchers[user, default: []].append(connection)
            }
            let isOnline = users[user] != nil
            return PresenceState(
                userId: user, online: isOnline, lastSeen: isOnline ? nil : lastSeenToSave[user] ?? visibility.lastSeen)
        }
    }

    mutating func unwatch(_ connection: Connection, users watched: [UserID]) {
        for user in watched {
            watchers[user]?.removeAll { $0 === connection }
            if watchers[user]?.isEmpty == true { watchers[user] = nil }
        }
    }

    /// `presence` frames for everyone watching `user`.
    private func presenceNotices(user: UserID, online: Bool, lastSeen: Millis?) -> [Delivery] {
        guard let watching = watchers[user] else { return [] }
        let frame = ByteBuffer(
            string: ServerFrame.presence(PresenceState(userId: user, online: online, lastSeen: lastSeen)))
        return watching.map { Delivery(connection: $0, frame: frame, cursor: nil) }
    }

    /// The last-seen times recorded since the previous call, for the store (batched writes).
    mutating func takeLastSeen() -> [UserID: Millis] {
        defer { lastSeenToSave = [:] }
        return lastSeenToSave
    }

    /// Puts back last-seen times that could not be saved, unless a newer one was recorded meanwhile.
    mutating func restoreLastSeen(_ times: [UserID: Millis]) {
        lastSeenToSave.merge(times) { newer, _ in newer }
    }

    /// Dictionaries keep their capacity when emptied; after the last user leaves, give it back.
    private mutating func releaseCapacity() {
        users = [:]
        online = [:]
        if watchers.isEmpty { watchers = [:] }
        if typing.isEmpty { typing = [:] }
    }
}

/// The answer to `attach`.
enum Attachment: Equatable {
    /// Attached; `membershipKnown` is false when this is the user's first connection and their conversations must
    /// be loaded (`membershipLoaded`) before live events of those conversations can reach them.
    case attached(membershipKnown: Bool)
    case tooManyConnections
    /// The socket's login session ended after its token was checked; why.
    case sessionEnded(String)
}

/// A login session that ended lately.
struct EndedSession: Equatable {
    var reason: String
    var until: Millis
}

/// One frame for one connection; `cursor` is nil for ephemeral frames (typing, presence), which are dropped first
/// when the connection falls behind.
struct HubDelivery<Connection: AnyObject> {
    let connection: Connection
    let frame: ByteBuffer
    let cursor: EventCursor?
}

extension HubDelivery: Sendable where Connection: Sendable {}

/// A committed event as the hub fans it out: its frame encoded once, and the membership change it carries.
struct PublishedEvent: Sendable {
    var cursor: EventCursor
    var conversation: ConversationID?
    var audience: UserID?
    var frame: ByteBuffer
    var membership: MembershipChange?
}

/// One online user.
struct UserEntry<Connection: AnyObject> {
    var connections: [Connection]
    /// Nil until `membershipLoaded`; membership changes seen meanwhile wait in `pendingChanges`.
    var conversations: Set<ConversationID>?
    var pendingChanges: [PendingChange] = []
    /// The user's frame budget over all their connections.
    var frames: TokenBucket

    init(connection: Connection, limits: RealtimeLimits) {
        connections = [connection]
        frames = TokenBucket(burst: limits.userFrameBurst)
    }
}

struct PendingChange {
    var cursor: EventCursor
    var conversation: ConversationID
    var joined: Bool
}

struct TypingKey: Hashable {
    var conversation: ConversationID
    var user: UserID
}

struct Typing {
    var forwardedAt: Millis
    var expiresAt: Millis
}
