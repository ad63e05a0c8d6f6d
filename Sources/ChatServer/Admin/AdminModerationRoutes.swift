import ChatAdmin
import ChatCore
import Hummingbird

/// The admin API's moderation: any conversation and its members, and deleting a message whoever sent it (a
/// tombstone and a `message.deleted` event, as a member's delete).
struct AdminModerationRoutes {
    let services: ChatServices

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.conversations), use: list)
        router.get("v1/conversations/{id}", use: show)
        router.post("v1/conversations/{id}/messages/{seq}/delete", use: deleteMessage)
    }

    struct ConversationsResponse: ResponseEncodable {
        var conversations: [ConversationSummary]
    }

    @Sendable func list(_ request: Request, context: ChatRequestContext) async throws -> ConversationsResponse {
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 100, max: 10_000)
        return ConversationsResponse(
            conversations: try await services.conversations.store.allConversations(
                after: try request.query("after", as: ConversationID.self) ?? 0,
                member: try request.query("user_id", as: UserID.self), limit: limit))
    }

    @Sendable func show(_ request: Request, context: ChatRequestContext) async throws -> ConversationReport {
        let (conversation, members) = try await services.conversations.store.inspect(
            try context.parameters.id("id", "conversation"))
        return ConversationReport(conversation: conversation, members: members)
    }

    struct MessageResponse: ResponseEncodable {
        var message: Message
    }

    @Sendable func deleteMessage(_ request: Request, context: ChatRequestContext) async throws -> MessageResponse {
        let conversation = try context.parameters.id("id", "conversation")
        let seq = try context.parameters.id("seq", "message")
        let message = try await services.messages.store.moderateDelete(conversation: conversation, seq: seq)
        services.logger.notice(
            "message deleted by an operator", metadata: ["conversation": "\(conversation)", "seq": "\(seq)"])
        return MessageResponse(message: message)
    }
}

extension ConversationReport: ResponseEncodable {}
