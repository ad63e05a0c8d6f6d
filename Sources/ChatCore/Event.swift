/// The kinds of change in the event log. Every durable change is one of these; typing and presence are not.
public enum EventType: String, Codable, Sendable, CaseIterable {
    case conversationCreated = "conversation.created"
    case conversationUpdated = "conversation.updated"
    case memberAdded = "member.added"
    case memberRemoved = "member.removed"
    case memberRoleChanged = "member.role_changed"
    case messageCreated = "message.created"
    case messageEdited = "message.edited"
    case messageDeleted = "message.deleted"
    case reactionAdded = "reaction.added"
    case reactionRemoved = "reaction.removed"
    case receiptRead = "receipt.read"
    case receiptDelivered = "receipt.delivered"
    /// A change to one member's own settings (mute), seen by that user's devices only.
    case conversationSettings = "conversation.settings"
    /// An upload's display image, thumbnail and metadata are made (seen where it was shared, or by its owner).
    case mediaProcessed = "media.processed"
    /// An upload could not be processed (after its last attempt); it stays downloadable as a file.
    case mediaFailed = "media.failed"
}

/// One entry of the event log, ready for the wire.
///
/// `data` is the event's payload as an encoded JSON object, produced once when the event is written or read, so
/// fan-out and sync pages never encode the same payload twice.
public struct Event: Sendable, Equatable {
    public var cursor: EventCursor
    public var type: EventType
    public var conversationId: ConversationID?
    /// When set, only this user sees the event; otherwise every member of the conversation does.
    public var audienceUserId: UserID?
    public var at: Millis
    public var data: String

    public init(
        cursor: EventCursor, type: EventType, conversationId: ConversationID?, audienceUserId: UserID?, at: Millis,
        data: String
    ) {
        self.cursor = cursor
        self.type = type
        self.conversationId = conversationId
        self.audienceUserId = audienceUserId
        self.at = at
        self.data = data
    }

    /// `{"cursor":…,"type":…,"conversation_id":…,"at":…,"data":{…}}`
    public var json: String {
        var out = "{\"cursor\":\(cursor),\"type\":\"\(type.rawValue)\""
        if let conversationId { out += ",\"conversation_id\":\(conversationId)" }
        out += ",\"at\":\(at),\"data\":\(data)}"
        return out
    }
}

/// A change of a conversation's member list, as `conversation.created`, `member.added` and `member.removed` events
/// say it in their data.
public enum MembershipChange: Sendable, Equatable {
    case joined([UserID])
    case left(UserID)
}

/// A page of a user's events after a cursor.
public enum SyncPage: Sendable, Equatable {
    /// Events in cursor order; `cursor` is where the next page starts (the last event's, or the one asked for).
    case events([Event], cursor: EventCursor, hasMore: Bool)
    /// The cursor is older than the retained history (or ahead of this server's log): the client reloads its state
    /// and continues from `head`.
    case resetRequired(head: EventCursor, oldestAvailable: EventCursor)
}

/// Receives committed events in cursor order, right after their transaction is durable.
/// The store calls it; the realtime hub implements it. It must not block.
public protocol EventPublisher: Sendable {
    func publish(_ events: [Event])
}
