import ChatCore
import ChatStore
import Hummingbird

/// `/v1/conversations`: direct conversations, groups, members, roles, titles, mute, and the conversation list.
struct ConversationRoutes {
    let services: ChatServices

    func register(on group: RouterGroup<ChatRequestContext>) {
        group.post("conversations/direct", use: openDirect)
        group.post("conversations/group", use: createGroup)
        group.get("conversations", use: list)
        group.get("conversations/{conversation_id}", use: show)
        group.patch("conversations/{conversation_id}", use: rename)
        group.get("conversations/{conversation_id}/members", use: members)
        group.post("conversations/{conversation_id}/members", use: addMembers)
        group.patch("conversations/{conversation_id}/members/{user_id}", use: changeRole)
        group.delete("conversations/{conversation_id}/members/{user_id}", use: removeMember)
        group.put("conversations/{conversation_id}/mute", use: mute)
        group.delete("conversations/{conversation_id}/mute", use: unmute)
    }

    struct ConversationResponse: ResponseEncodable {
        var conversation: ConversationView
    }

    struct ConversationListResponse: ResponseEncodable {
        var conversations: [ConversationView]
        /// Pass as `before` for the next page; absent on the last page.
        var next: String?
    }

    struct MembersResponse: ResponseEncodable {
        var members: [Member]
    }

    struct DirectRequest: Decodable {
        var userId: UserID
    }

    @Sendable func openDirect(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<ConversationResponse>
    {
        let body = try await request.decodeJSON(DirectRequest.self, limit: services.maxBody)
        let (view, created) = try await services.store.openDirect(
            user: try context.requireIdentity().userId, peer: body.userId)
        return EditedResponse(status: created ? .created : .ok, response: ConversationResponse(conversation: view))
    }

    struct GroupRequest: Decodable {
        var title: String
        var memberIds: [UserID]?
    }

    @Sendable func createGroup(_ request: Request, context: ChatRequestContext) async throws
        -> EditedResponse<ConversationResponse>
    {
        let body = try await request.decodeJSON(GroupRequest.self, limit: services.maxBody)
        let view = try await services.store.createGroup(
            creator: try context.requireIdentity().userId, title: try Validate.title(body.title),
            members: body.memberIds ?? [])
        return EditedResponse(status: .created, response: ConversationResponse(conversation: view))
    }

    @Sendable func list(_ request: Request, context: ChatRequestContext) async throws -> ConversationListResponse {
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 50, max: 100)
        let before = try request.query("before", as: ConversationPageKey.self)
        let page = try await services.store.conversations(
            for: try context.requireIdentity().userId, before: before, limit: limit)
        return ConversationListResponse(conversations: page.views, next: page.next?.description)
    }

    @Sendable func show(_ request: Request, context: ChatRequestContext) async throws -> ConversationResponse {
        let view = try await services.store.conversation(
            try context.parameters.id("conversation_id", "conversation"), for: try context.requireIdentity().userId)
        return ConversationResponse(conversation: view)
    }

    struct RenameRequest: Decodable {
        var title: String
    }

    @Sendable func rename(_ request: Request, context: ChatRequestContext) async throws -> ConversationResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(RenameRequest.self, limit: services.maxBody)
        let view = try await services.store.setTitle(
            try Validate.title(body.title), conversation: id, actor: try context.requireIdentity().userId)
        return ConversationResponse(conversation: view)
    }

    @Sendable func members(_ request: Request, context: ChatRequestContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        return MembersResponse(members: try await services.store.members(of: id, for: try context.requireIdentity().userId))
    }

    struct AddMembersRequest: Decodable {
        var userIds: [UserID]
    }

    @Sendable func addMembers(_ request: Request, context: ChatRequestContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(AddMembersRequest.self, limit: services.maxBody)
        guard !body.userIds.isEmpty else { throw ChatError.invalid("user_ids must not be empty") }
        let members = try await services.store.addMembers(
            body.userIds, conversation: id, actor: try context.requireIdentity().userId)
        return MembersResponse(members: members)
    }

    struct RoleRequest: Decodable {
        var role: MemberRole
    }

    @Sendable func changeRole(_ request: Request, context: ChatRequestContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let target = try context.parameters.id("user_id", "member")
        let body = try await request.decodeJSON(RoleRequest.self, limit: services.maxBody)
        let members = try await services.store.changeRole(
            of: target, to: body.role, conversation: id, actor: try context.requireIdentity().userId)
        return MembersResponse(members: members)
    }

    /// Removes a member; removing yourself leaves the group.
    @Sendable func removeMember(_ request: Request, context: ChatRequestContext) async throws -> NoContent {
        let id = try context.parameters.id("conversation_id", "conversation")
        let target = try context.parameters.id("user_id", "member")
        try await services.store.removeMember(target, conversation: id, actor: try context.requireIdentity().userId)
        return NoContent()
    }

    @Sendable func mute(_ request: Request, context: ChatRequestContext) async throws -> ConversationResponse {
        try await setMuted(true, context)
    }

    @Sendable func unmute(_ request: Request, context: ChatRequestContext) async throws -> ConversationResponse {
        try await setMuted(false, context)
    }

    private func setMuted(_ muted: Bool, _ context: ChatRequestContext) async throws -> ConversationResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let view = try await services.store.setMuted(muted, conversation: id, user: try context.requireIdentity().userId)
        return ConversationResponse(conversation: view)
    }
}
