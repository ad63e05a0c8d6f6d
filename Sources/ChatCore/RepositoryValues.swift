// The values the repositories answer with.

/// The answer to a send: the stored message and the cursor of its event. A resent `client_id` gets the original.
public struct SendResult: Sendable, Equatable {
    public var message: Message
    public var cursor: EventCursor?
    /// True when this send repeated an earlier `(sender, client_id)` and nothing new was written.
    public var duplicate: Bool

    public init(message: Message, cursor: EventCursor?, duplicate: Bool) {
        self.message = message
        self.cursor = cursor
        self.duplicate = duplicate
    }
}

/// A page of history in seq order, oldest first.
public struct HistoryPage: Sendable, Equatable {
    public var messages: [Message]
    /// Whether more messages lie beyond the page in the direction it was read.
    public var hasMore: Bool

    public init(messages: [Message], hasMore: Bool) {
        self.messages = messages
        self.hasMore = hasMore
    }
}

public enum Receipt: Sendable {
    case read, delivered
}

public enum RefreshOutcome: Sendable, Equatable {
    case rotated(user: UserID, session: SessionID)
    case unknown
    case expired
    case revoked
    /// The token had already been used: the whole session was revoked, because either the client or a thief holds
    /// a copy of a spent token.
    case reused(user: UserID, session: SessionID)
}

public enum CodeCheck: Sendable, Equatable {
    case accepted(OTPChannel)
    case wrong(attemptsLeft: Int)
    /// No live code: none was requested, it expired, it was used, or too many attempts failed.
    case noLiveCode
}

/// A user whose presence a viewer may see, with their stored last-seen time (nil if never seen).
public struct PresenceVisibility: Sendable, Equatable {
    public var userId: UserID
    public var lastSeen: Millis?

    public init(userId: UserID, lastSeen: Millis?) {
        self.userId = userId
        self.lastSeen = lastSeen
    }
}

/// Where a page of the conversation list ends: its last conversation's activity time and id.
public struct ConversationPageKey: Sendable, Equatable, LosslessStringConvertible {
    public var lastActivityAt: Millis
    public var id: ConversationID

    public init(lastActivityAt: Millis, id: ConversationID) {
        self.lastActivityAt = lastActivityAt
        self.id = id
    }

    /// `"<last_activity_at>_<id>"`, two runs of decimal digits.
    public init?(_ description: String) {
        let parts = description.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy(\.isDecimalDigits),
            let at = Millis(parts[0]), let id = ConversationID(parts[1])
        else { return nil }
        self.init(lastActivityAt: at, id: id)
    }

    public var description: String { "\(lastActivityAt)_\(id)" }
}

/// A login session as the operator sees it.
public struct SessionSummary: Sendable, Equatable, Codable {
    public var id: SessionID
    public var createdAt: Millis
    public var revokedAt: Millis?
    public var revokedReason: String?

    public init(id: SessionID, createdAt: Millis, revokedAt: Millis?, revokedReason: String?) {
        self.id = id
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.revokedReason = revokedReason
    }
}

/// A user as the operator sees it: the profile and the account's state.
public struct AccountSummary: Sendable, Equatable, Codable {
    public var user: UserProfile
    public var disabledAt: Millis?
    public var activeSessions: Int
    public var role: ServerRole
    /// Set when an operator deleted the account (the row stays, anonymized, so its messages keep a sender).
    public var deletedAt: Millis?

    public init(
        user: UserProfile, disabledAt: Millis?, activeSessions: Int, role: ServerRole = .member, deletedAt: Millis? = nil
    ) {
        self.user = user
        self.disabledAt = disabledAt
        self.activeSessions = activeSessions
        self.role = role
        self.deletedAt = deletedAt
    }
}

/// A user's role on the whole server, set by the operator (a conversation's roles are `MemberRole`): a moderator
/// deletes any message in the conversations they are a member of.
public enum ServerRole: String, Codable, Sendable, CaseIterable {
    case member, moderator
}

/// What deleting an account did.
public struct AccountDeletion: Codable, Sendable, Equatable {
    public var endedSessions: Int
    /// Groups the user left (their direct conversations stay, with "Deleted user" as the other side).
    public var leftGroups: Int
    /// Messages of theirs made tombstones (only when asked).
    public var erasedMessages: Int

    public init(endedSessions: Int, leftGroups: Int, erasedMessages: Int) {
        self.endedSessions = endedSessions
        self.leftGroups = leftGroups
        self.erasedMessages = erasedMessages
    }
}

/// A conversation as the operator sees it (no member's point of view).
public struct ConversationSummary: Sendable, Equatable, Codable {
    public var id: ConversationID
    public var kind: ConversationKind
    public var title: String?
    public var createdAt: Millis
    public var lastSeq: Seq
    public var lastActivityAt: Millis
    public var memberCount: Int

    public init(
        id: ConversationID, kind: ConversationKind, title: String?, createdAt: Millis, lastSeq: Seq,
        lastActivityAt: Millis, memberCount: Int
    ) {
        self.id = id
        self.kind = kind
        self.title = title
        self.createdAt = createdAt
        self.lastSeq = lastSeq
        self.lastActivityAt = lastActivityAt
        self.memberCount = memberCount
    }
}
