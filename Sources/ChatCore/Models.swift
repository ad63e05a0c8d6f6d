/// What clients see of a user.
public struct UserProfile: Codable, Sendable, Equatable {
    public var id: UserID
    public var handle: String?
    public var displayName: String
    public var createdAt: Millis
    public var lastSeenAt: Millis?

    public init(id: UserID, handle: String?, displayName: String, createdAt: Millis, lastSeenAt: Millis?) {
        self.id = id
        self.handle = handle
        self.displayName = displayName
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

public enum ConversationKind: String, Codable, Sendable {
    case direct, group
}

public enum MemberRole: String, Codable, Sendable, Comparable {
    case member, admin, owner

    /// Admins and the owner manage members and the title.
    public var canManage: Bool { self != .member }

    private var rank: Int {
        switch self {
        case .member: 0
        case .admin: 1
        case .owner: 2
        }
    }

    public static func < (lhs: MemberRole, rhs: MemberRole) -> Bool { lhs.rank < rhs.rank }
}

public struct Member: Codable, Sendable, Equatable {
    public var userId: UserID
    public var handle: String?
    public var displayName: String
    public var role: MemberRole
    public var joinedAt: Millis
    public var lastReadSeq: Seq
    public var lastDeliveredSeq: Seq

    public init(
        userId: UserID, handle: String?, displayName: String, role: MemberRole, joinedAt: Millis, lastReadSeq: Seq,
        lastDeliveredSeq: Seq
    ) {
        self.userId = userId
        self.handle = handle
        self.displayName = displayName
        self.role = role
        self.joinedAt = joinedAt
        self.lastReadSeq = lastReadSeq
        self.lastDeliveredSeq = lastDeliveredSeq
    }
}

/// One reaction emoji on a message with the users who chose it.
public struct ReactionSummary: Codable, Sendable, Equatable {
    public var emoji: String
    public var userIds: [UserID]

    public init(emoji: String, userIds: [UserID]) {
        self.emoji = emoji
        self.userIds = userIds
    }
}

/// A message as clients see it. A deleted message keeps its seq as a tombstone: `text` is nil and `deletedAt` set.
public struct Message: Codable, Sendable, Equatable {
    public var id: MessageID
    public var conversationId: ConversationID
    public var seq: Seq
    public var senderId: UserID
    public var clientId: String
    public var text: String?
    public var replyToSeq: Seq?
    public var createdAt: Millis
    public var editedAt: Millis?
    public var deletedAt: Millis?
    public var reactions: [ReactionSummary]
    /// The media the message carries, in the sender's order (absent when none).
    public var attachments: [Media]?

    public init(
        id: MessageID, conversationId: ConversationID, seq: Seq, senderId: UserID, clientId: String, text: String?,
        replyToSeq: Seq?, createdAt: Millis, editedAt: Millis?, deletedAt: Millis?, reactions: [ReactionSummary] = [],
        attachments: [Media]? = nil
    ) {
        self.id = id
        self.conversationId = conversationId
        self.seq = seq
        self.senderId = senderId
        self.clientId = clientId
        self.text = text
        self.replyToSeq = replyToSeq
        self.createdAt = createdAt
        self.editedAt = editedAt
        self.deletedAt = deletedAt
        self.reactions = reactions
        self.attachments = attachments
    }
}

/// A conversation as one member sees it: its state plus that member's own read position, role and mute.
public struct ConversationView: Codable, Sendable, Equatable {
    public var id: ConversationID
    public var kind: ConversationKind
    public var title: String?
    public var createdAt: Millis
    public var lastSeq: Seq
    public var lastActivityAt: Millis
    public var memberCount: Int
    public var role: MemberRole
    public var muted: Bool
    public var lastReadSeq: Seq
    public var unreadCount: Int64
    /// The other member of a direct conversation.
    public var peer: UserProfile?
    public var lastMessage: Message?

    public init(
        id: ConversationID, kind: ConversationKind, title: String?, createdAt: Millis, lastSeq: Seq,
        lastActivityAt: Millis, memberCount: Int, role: MemberRole, muted: Bool, lastReadSeq: Seq,
        unreadCount: Int64, peer: UserProfile?, lastMessage: Message?
    ) {
        self.id = id
        self.kind = kind
        self.title = title
        self.createdAt = createdAt
        self.lastSeq = lastSeq
        self.lastActivityAt = lastActivityAt
        self.memberCount = memberCount
        self.role = role
        self.muted = muted
        self.lastReadSeq = lastReadSeq
        self.unreadCount = unreadCount
        self.peer = peer
        self.lastMessage = lastMessage
    }
}

/// A search hit: the message and a snippet with the matched terms between `[` and `]`.
public struct SearchHit: Codable, Sendable, Equatable {
    public var message: Message
    public var snippet: String

    public init(message: Message, snippet: String) {
        self.message = message
        self.snippet = snippet
    }
}
