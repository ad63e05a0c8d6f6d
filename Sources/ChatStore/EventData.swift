import ChatCore

// The `data` objects of events, one struct per shape. `share/openapi.yaml` documents them.

struct ConversationCreatedData: Encodable {
    var conversation: ConversationInfo
    var memberIds: [UserID]
}

struct ConversationInfo: Encodable {
    var id: ConversationID
    var kind: ConversationKind
    var title: String?
    var createdBy: UserID?
    var createdAt: Millis
}

struct ConversationUpdatedData: Encodable {
    var title: String
    var by: UserID
}

struct MemberData: Encodable {
    var userId: UserID
    var role: MemberRole?
    var by: UserID
}

/// `{"message":{…}}`, encoded by hand (see `Message.json`): it is on the path of every send.
enum MessageData {
    static func json(_ message: Message) -> String {
        "{\"message\":" + message.json + "}"
    }
}

struct ReactionData: Encodable {
    var messageId: MessageID
    var seq: Seq
    var userId: UserID
    var emoji: String
}

struct ReceiptData: Encodable {
    var userId: UserID
    var seq: Seq
}

struct SettingsData: Encodable {
    var muted: Bool
}

extension EventType {
    /// The integer stored in `events.type`. Shipped codes never change; a new type takes the next number (and the
    /// schema's CHECK grows with a migration).
    var storageCode: Int {
        switch self {
        case .conversationCreated: 1
        case .conversationUpdated: 2
        case .memberAdded: 3
        case .memberRemoved: 4
        case .memberRoleChanged: 5
        case .messageCreated: 6
        case .messageEdited: 7
        case .messageDeleted: 8
        case .reactionAdded: 9
        case .reactionRemoved: 10
        case .receiptRead: 11
        case .receiptDelivered: 12
        case .conversationSettings: 13
        case .mediaProcessed: 14
        case .mediaFailed: 15
        }
    }

    init?(storageCode: Int) {
        guard let type = Self.allCases.first(where: { $0.storageCode == storageCode }) else { return nil }
        self = type
    }
}
