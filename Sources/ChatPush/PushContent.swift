import ChatCore

/// What one notification says, the same for every vendor: each renders it in its own format (FCM's `notification`
/// and `data`, APNs' `aps`, the JSON a Web Push service worker decrypts).
public struct PushContent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// A new message.
        case message
        /// `chatctl push test`: proves the path from chatd to the device.
        case test
    }

    public var kind: Kind
    public var conversationId: ConversationID?
    public var messageId: MessageID?
    public var seq: Seq?
    /// Absent when `push.preview` is "none".
    public var senderId: UserID?
    public var senderName: String?
    public var title: String
    public var body: String
    /// Unread messages across the user's conversations (the app icon's badge).
    public var badge: Int
    /// Notifications with the same key replace each other on the device: one per conversation, so a burst shows
    /// as its last message (APNs `apns-collapse-id`, FCM `collapse_key` and `tag`, Web Push `Topic`).
    public var collapseKey: String

    public init(
        kind: Kind, conversationId: ConversationID? = nil, messageId: MessageID? = nil, seq: Seq? = nil,
        senderId: UserID? = nil, senderName: String? = nil, title: String, body: String, badge: Int,
        collapseKey: String
    ) {
        self.kind = kind
        self.conversationId = conversationId
        self.messageId = messageId
        self.seq = seq
        self.senderId = senderId
        self.senderName = senderName
        self.title = title
        self.body = body
        self.badge = badge
        self.collapseKey = collapseKey
    }

    /// How much of a text a notification shows.
    static let bodyCharacters = 120

    /// The notification of a message, as much of it as `preview` allows.
    public static func message(_ message: PushMessage, badge: Int, preview: PushPreview) -> PushContent {
        var content = PushContent(
            kind: .message, conversationId: message.conversationId, messageId: message.messageId, seq: message.seq,
            title: "New message", body: "", badge: badge, collapseKey: "c\(message.conversationId)")
        guard preview != .none else { return content }
        content.senderId = message.senderId
        content.senderName = message.senderName
        content.title = message.isGroup ? (message.conversationTitle ?? message.senderName) : message.senderName
        var body = "New message"
        if preview == .full {
            let text = message.text
            body = text.count > bodyCharacters ? String(text.prefix(bodyCharacters)) + "…" : text
            if text.isEmpty {
                body = switch message.attachmentKind {
                case "image": "sent a photo"
                case "video": "sent a video"
                default: "sent a file"
                }
            }
        }
        content.body = message.isGroup ? "\(message.senderName): \(body)" : body
        return content
    }

    /// The notification `chatctl push test` sends.
    public static func test(badge: Int) -> PushContent {
        PushContent(
            kind: .test, title: "chatd", body: "Test notification: push works on this device.", badge: badge,
            collapseKey: "test")
    }

    /// The fields as strings, for vendors whose data is a string map (FCM's `data`).
    public var stringFields: [String: String] {
        var fields = ["kind": kind.rawValue, "title": title, "body": body, "badge": "\(badge)"]
        if let conversationId { fields["conversation_id"] = "\(conversationId)" }
        if let messageId { fields["message_id"] = "\(messageId)" }
        if let seq { fields["seq"] = "\(seq)" }
        if let senderId { fields["sender_id"] = "\(senderId)" }
        if let senderName { fields["sender_name"] = senderName }
        return fields
    }
}
