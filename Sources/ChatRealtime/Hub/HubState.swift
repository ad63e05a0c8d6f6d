import ChatCore
import NIOCore

/// The hub's maps, behind its lock.
struct HubState {
    /// Online users: each has at least one authenticated connection.
    var users: [UserID: UserEntry] = [:]
    /// Conversation → its online members whose memberships are loaded. Fan-out reads only this.
    var online: [ConversationID: Set<UserID>] = [:]
    /// User → connections subscribed to their presence.
    var watchers: [UserID: [WebSocketConnection]] = [:]
    var typing: [TypingKey: Typing] = [:]
    /// Last-seen times not yet written to the store.
    var lastSeenToSave: [UserID: Millis] = [:]

    /// Dictionaries keep their capacity when emptied; after the last user leaves, give it back.
    mutating func releaseCapacity() {
        users = [:]
        online = [:]
        if watchers.isEmpty { watchers = [:] }
        if typing.isEmpty { typing = [:] }
    }

    mutating func apply(_ change: MembershipChange, conversation: ConversationID, cursor: EventCursor) {
        switch change {
        case .joined(let users):
            for user in users { setMember(user, of: conversation, joined: true, cursor: cursor) }
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

    /// `presence` frames for everyone watching `user`.
    func presenceNotices(user: UserID, online: Bool, lastSeen: Millis?) -> [Hub.Delivery] {
        guard let watching = watchers[user] else { return [] }
        let frame = ByteBuffer(string: ServerFrame.presence(PresenceState(userId: user, online: online, lastSeen: lastSeen)))
        return watching.map { Hub.Delivery(connection: $0, frame: frame, cursor: nil) }
    }

    /// `typing` frames for the conversation's online members other than the typer.
    func typingNotices(_ key: TypingKey, active: Bool, limits: RealtimeLimits) -> [Hub.Delivery] {
        guard let members = online[key.conversation] else { return [] }
        let frame = ByteBuffer(
            string: ServerFrame.typing(
                conversation: key.conversation, user: key.user, active: active,
                expiresInMillis: limits.typingTTLMillis))
        var notices: [Hub.Delivery] = []
        for member in members where member != key.user {
            for connection in users[member]?.connections ?? [] {
                notices.append(Hub.Delivery(connection: connection, frame: frame, cursor: nil))
            }
        }
        return notices
    }

    /// A user who went offline stops typing everywhere.
    mutating func stopTyping(user: UserID, limits: RealtimeLimits) -> [Hub.Delivery] {
        let keys = typing.keys.filter { $0.user == user }
        var notices: [Hub.Delivery] = []
        for key in keys {
            typing[key] = nil
            notices += typingNotices(key, active: false, limits: limits)
        }
        return notices
    }
}

/// One online user.
struct UserEntry {
    var connections: [WebSocketConnection]
    /// Nil until `Hub.membershipLoaded`; membership changes seen meanwhile wait in `pendingChanges`.
    var conversations: Set<ConversationID>?
    var pendingChanges: [PendingChange] = []
    /// The user's frame budget over all their connections.
    var frames: TokenBucket

    init(connection: WebSocketConnection, limits: RealtimeLimits) {
        connections = [connection]
        frames = TokenBucket(burst: limits.frameBurst * 2)
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

/// A token bucket: `burst` frames at once, refilled at `perSecond` (given at each call, not stored).
struct TokenBucket {
    private var tokens: Double
    private var updated: NIODeadline?

    init(burst: Int) {
        tokens = Double(burst)
    }

    mutating func take(now: NIODeadline, perSecond: Int, burst: Int) -> Bool {
        if let updated {
            let elapsed = Double((now - updated).nanoseconds) / 1e9
            tokens = min(Double(burst), tokens + elapsed * Double(perSecond))
        }
        updated = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
