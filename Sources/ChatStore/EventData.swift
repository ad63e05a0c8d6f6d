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
