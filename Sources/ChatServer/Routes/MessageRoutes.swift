import ChatCore
import Foundation
import Hummingbird

/// `/v1/conversations/{id}/messages` and receipts: send, history, edit, delete, reactions, read and delivered.
struct MessageRoutes {
    let services: ChatServices

    func register(on group: RouterGroup<AuthenticatedContext>) {
        let messages = "conversations/{conversation_id}/messages"
        group.post(RouterPath(messages), use: send)
        group.get(RouterPath(messages), use: history)
        group.patch(RouterPath(messages + "/{seq}"), use: edit)
        group.delete(RouterPath(messages + "/{seq}"), use: delete)
        group.put(RouterPath(messages + "/{seq}/reactions/{emoji}"), use: addReaction)
        group.delete(RouterPath(messages + "/{seq}/reactions/{emoji}"), use: removeReaction)
        group.post("conversations/{conversation_id}/read", use: markRead)
        group.post("conversations/{conversation_id}/delivered", use: markDelivered)
    }

    struct SendRequest: Decodable {
        var clientId: String
        /// May be empty (or absent) when the message carries attachments.
        var text: String?
        var replyTo: Seq?
        var attachments: [Int64]?
    }

    typealias SendResponse = MessageService.SendResponse
    typealias MessageResponse = MessageService.MessageResponse
    typealias ReceiptResponse = MessageService.ReceiptResponse
    private var messages: MessageService { services.messages }

    struct HistoryResponse: ResponseEncodable {
        var messages: [Message]
        var hasMore: Bool
    }

    /// 201 for a new message, 200 with the original for a repeated `client_id`.
    @Sendable func send(_ request: Request, context: AuthenticatedContext) async throws -> EditedResponse<SendResponse> {
        let sender = context.user
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(SendRequest.self, limit: services.maxBody)
        let result = try await messages.send(
            sender: sender, conversation: id, clientId: body.clientId, text: body.text ?? "", replyTo: body.replyTo,
            attachments: body.attachments ?? [])
        return EditedResponse(status: result.duplicate ? .ok : .created, response: result)
    }

    @Sendable func history(_ request: Request, context: AuthenticatedContext) async throws -> HistoryResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let page = try await messages.history(
            conversation: id, for: context.user, before: try request.query("before", as: Seq.self),
            after: try request.query("after", as: Seq.self), limit: try request.query("limit", as: Int.self))
        return HistoryResponse(messages: page.messages, hasMore: page.hasMore)
    }

    struct EditRequest: Decodable {
        var text: String
    }

    @Sendable func edit(_ request: Request, context: AuthenticatedContext) async throws -> MessageResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let seq = try context.parameters.id("seq", "message")
        let body = try await request.decodeJSON(EditRequest.self, limit: services.maxBody)
        return try await messages.edit(
            conversation: id, seq: seq, text: body.text, editor: context.user)
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> MessageResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let seq = try context.parameters.id("seq", "message")
        return try await messages.delete(conversation: id, seq: seq, actor: context.user)
    }

    @Sendable func addReaction(_ request: Request, context: AuthenticatedContext) async throws -> MessageResponse {
        try await react(add: true, context)
    }

    @Sendable func removeReaction(_ request: Request, context: AuthenticatedContext) async throws -> MessageResponse {
        try await react(add: false, context)
    }

    /// The emoji travels percent-encoded in the path.
    private func react(add: Bool, _ context: AuthenticatedContext) async throws -> MessageResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let seq = try context.parameters.id("seq", "message")
        let raw = context.parameters.get("emoji") ?? ""
        let emoji = raw.removingPercentEncoding ?? raw
        return try await messages.react(
            emoji, add: add, conversation: id, seq: seq, user: context.user)
    }

    struct ReceiptRequest: Decodable {
        var seq: Seq
    }

    @Sendable func markRead(_ request: Request, context: AuthenticatedContext) async throws -> ReceiptResponse {
        try await receipt(.read, request, context)
    }

    @Sendable func markDelivered(_ request: Request, context: AuthenticatedContext) async throws -> ReceiptResponse {
        try await receipt(.delivered, request, context)
    }

    private func receipt(_ kind: Receipt, _ request: Request, _ context: AuthenticatedContext) async throws
        -> ReceiptResponse
    {
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(ReceiptRequest.self, limit: services.maxBody)
        return try await messages.markReceipt(
            kind, upTo: body.seq, conversation: id, user: context.user)
    }
}
