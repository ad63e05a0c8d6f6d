import ChatCore
import Hummingbird

/// Sending and changing messages, for both transports: the REST routes and the WebSocket frames call these same
/// methods, so a send is authorized, validated, rate-limited, deduplicated and made durable the same way whichever
/// way it came.
struct MessageService: Sendable {
    let store: any MessageRepository
    /// `limits.max_message_bytes`.
    let maxMessageBytes: Int
    /// Per-user send limit (`limits.messages_per_minute`).
    let sendLimiter: RateLimiter
    /// `media.max_attachments`.
    var maxAttachments = 10

    struct SendResponse: ResponseEncodable {
        var message: Message
        var cursor: EventCursor?
        var duplicate: Bool

        /// The same JSON as the encoder's (a test compares them), built by hand: it answers every send.
        var json: String {
            var out = "{"
            if let cursor { out += "\"cursor\":\(cursor)," }
            return out + "\"duplicate\":\(duplicate),\"message\":" + message.json + "}"
        }
    }

    struct MessageResponse: ResponseEncodable {
        var message: Message
    }

    struct ReceiptResponse: ResponseEncodable {
        var lastReadSeq: Seq
        var lastDeliveredSeq: Seq
    }

    /// Returns once the message is durable; a repeated `client_id` returns the original (`duplicate`).
    func send(
        sender: UserID, conversation: ConversationID, clientId: String, text: String, replyTo: Seq?,
        attachments: [Int64] = []
    ) async throws -> SendResponse {
        try await withCheckedThrowingContinuation { continuation in
            send(
                sender: sender, conversation: conversation, clientId: clientId, text: text, replyTo: replyTo,
                attachments: attachments
            ) {
                continuation.resume(with: $0)
            }
        }
    }

    /// The same send, answered by calling `completion` from the store's writer queue: the WebSocket path, which
    /// hands the answer straight to the socket's event loop without a Task per message.
    func send(
        sender: UserID, conversation: ConversationID, clientId rawClientId: String, text rawText: String, replyTo: Seq?,
        attachments: [Int64] = [], completion: @escaping @Sendable (Result<SendResponse, any Error>) -> Void
    ) {
        let text: String
        let clientId: String
        do {
            try sendLimiter.enforce("user:\(sender)", what: "messages")
            try Validate.attachments(attachments, max: maxAttachments)
            // A message of attachments may have no text.
            text = attachments.isEmpty || !rawText.isEmpty
                ? try Validate.messageText(rawText, maxBytes: maxMessageBytes) : rawText
            clientId = try Validate.clientID(rawClientId)
            if let replyTo { _ = try Validate.positive(replyTo, field: "reply_to") }
        } catch {
            return completion(.failure(error))
        }
        store.sendMessage(
            sender: sender, conversation: conversation, clientId: clientId, text: text, replyTo: replyTo,
            attachments: attachments
        ) { result in
            completion(result.map { SendResponse(message: $0.message, cursor: $0.cursor, duplicate: $0.duplicate) })
        }
    }

    /// A page of history: with `after`, the messages following that seq; with `before`, those preceding it; with
    /// neither, the latest.
    func history(conversation: ConversationID, for user: UserID, before: Seq?, after: Seq?, limit: Int?)
        async throws -> HistoryPage
    {
        let limit = try Validate.limit(limit, default: 50, max: 100)
        if let before { _ = try Validate.positive(before, field: "before") }
        if let after, after < 0 { throw ChatError.invalid("after must not be negative") }
        return try await store.history(conversation: conversation, for: user, before: before, after: after, limit: limit)
    }

    func edit(conversation: ConversationID, seq: Seq, text: String, editor: UserID) async throws -> MessageResponse {
        let text = try Validate.messageText(text, maxBytes: maxMessageBytes)
        return MessageResponse(
            message: try await store.editMessage(conversation: conversation, seq: seq, text: text, editor: editor))
    }

    func delete(conversation: ConversationID, seq: Seq, actor: UserID) async throws -> MessageResponse {
        MessageResponse(message: try await store.deleteMessage(conversation: conversation, seq: seq, actor: actor))
    }

    func react(_ emoji: String, add: Bool, conversation: ConversationID, seq: Seq, user: UserID) async throws
        -> MessageResponse
    {
        let emoji = try Validate.emoji(emoji)
        return MessageResponse(
            message: try await store.react(emoji, add: add, conversation: conversation, seq: seq, user: user))
    }

    func markReceipt(_ kind: Receipt, upTo seq: Seq, conversation: ConversationID, user: UserID) async throws
        -> ReceiptResponse
    {
        _ = try Validate.positive(seq, field: "seq")
        let positions = try await store.markReceipt(kind, upTo: seq, conversation: conversation, user: user)
        return ReceiptResponse(lastReadSeq: positions.lastReadSeq, lastDeliveredSeq: positions.lastDeliveredSeq)
    }
}
